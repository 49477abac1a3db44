rockspec_format = "3.0"
package = "nslua"
version = "scm-1"
source = {
  -- the project's canonical repository
  url = "git+https://github.com/nslua/nslua.git",
  branch = "main",
}
description = {
  summary = "Linux namespaces, mounts, veth, capabilities and seccomp for Lua 5.4",
  detailed = "A Lua-scriptable Linux isolation toolkit: nslua.core binds the kernel's isolation primitives; nslua composes them into containers.",
  license = "MIT",
  homepage = "https://github.com/nslua/nslua",
}
supported_platforms = { "linux" }
dependencies = {
  "lua >= 5.4, < 5.5",
  "argparse",   -- the CLI's option parser
  "lua-cjson",  -- JSON output (docs/json.md) and seccomp JSON profiles
}
external_dependencies = {
  LIBMNL = { header = "libmnl/libmnl.h", library = "mnl" },
  LIBSECCOMP = { header = "seccomp.h", library = "seccomp" },
  LIBCAP = { header = "sys/capability.h", library = "cap" },
  LIBNFTABLES = { header = "nftables/libnftables.h", library = "nftables" },
}
build = {
  type = "make",
  build_variables = {
    CFLAGS = "$(CFLAGS)",
    NODEPS = "1",
    LUA_CFLAGS = "-I$(LUA_INCDIR)",
    DEP_CFLAGS = "-I$(LIBMNL_INCDIR) -I$(LIBSECCOMP_INCDIR) -I$(LIBCAP_INCDIR) -I$(LIBNFTABLES_INCDIR)",
    DEP_LIBS = "-L$(LIBMNL_LIBDIR) -L$(LIBSECCOMP_LIBDIR) -L$(LIBCAP_LIBDIR) -lmnl -lseccomp -lcap",
    WERROR = "",
    -- the interpreter the chunk rules run (scripts/luac), by its path
    LUA = "$(LUA)",
  },
  install_variables = {
    NODEPS = "1",
    -- the man pages and completions go under the rock's own prefix, never
    -- the Makefile's default /usr/local
    PREFIX = "$(PREFIX)",
    LIBDIR = "$(LIBDIR)",
    LUADIR = "$(LUADIR)",
    BINDIR = "$(BINDIR)",
    LUA = "$(LUA)",
  },
}
test_dependencies = { "busted" }
-- busted with the checkout's .busted (lua5.4, spec/); `luarocks test --
-- SPEC...` runs some.  (The "busted" test type needs busted installed as a
-- rock in the tree; "command" also takes a busted the system provides.)
test = { type = "command", command = "busted" }
