# nslua - development build.
#   make | make check | make lint | make sanitize | make fuzz | make bench | make install | make demo
#   make man | make completions | make cli-doc
LUA        ?= lua5.4
# the interpreter installed scripts name on their #! line
LUA_INTERP ?= /usr/bin/lua5.4
PKG_CONFIG ?= pkg-config
CC         ?= cc
BUSTED     ?= busted
LUACHECK   ?= luacheck

# `make` installs what is missing (scripts/deps.sh) before it reads the flags
# below; NODEPS=1 skips that for packagers.
ifeq ($(NODEPS),)
ifneq ($(shell $(PKG_CONFIG) --exists lua5.4 libmnl libseccomp libcap libnftables 2>/dev/null && echo ok),ok)
$(info make: build dependencies missing, running scripts/deps.sh)
DEPS_RC := $(shell scripts/deps.sh >&2; echo $$?)
ifneq ($(DEPS_RC),0)
$(error scripts/deps.sh failed (exit $(DEPS_RC)))
endif
endif
endif

# Lua headers only: a C module must not link liblua (the interpreter has it).
LUA_CFLAGS ?= $(shell $(PKG_CONFIG) --cflags lua5.4)
DEP_CFLAGS ?= $(shell $(PKG_CONFIG) --cflags libmnl libseccomp libcap libnftables)
# libnftables: headers only; csrc/nft.c dlopens it on first use
DEP_LIBS   ?= $(shell $(PKG_CONFIG) --libs libmnl libseccomp libcap)

CFLAGS  ?= -O2 -g
WERROR  ?= -Werror
WARN    := -Wall -Wextra $(WERROR) -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wformat=2 -Wundef -Wwrite-strings \
           -Wno-unused-parameter
# libmnl has no version API: `nslua --version --verbose` shows this one
DEP_VERSIONS ?= -DNSLUA_LIBMNL_VERSION='"$(shell $(PKG_CONFIG) --modversion libmnl 2>/dev/null)"'
ALL_CFLAGS := -std=gnu11 -D_GNU_SOURCE -fPIC -fvisibility=hidden \
              $(WARN) $(LUA_CFLAGS) $(DEP_CFLAGS) $(DEP_VERSIONS) $(CFLAGS)

PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib/lua/5.4
LUADIR ?= $(PREFIX)/share/lua/5.4
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man/man1
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  ?= $(PREFIX)/share/zsh/vendor-completions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d
SCDOC      ?= scdoc

# csrc/isolate-launcher.c and csrc/launcher.c are programs of their own
# (build/nslua-isolate, build/bin/nslua)
SRCS   := $(filter-out csrc/isolate-launcher.c csrc/launcher.c,$(wildcard csrc/*.c))
OBJS   := $(SRCS:csrc/%.c=build/obj/%.o)
# the path mirrors require "nslua.core"
TARGET := build/nslua/core.so

# The nslua command as a program (csrc/launcher.c; docs/install.md): Lua
# 5.4 and the core in one binary, scripts/nslua built in.  Lua is linked
# statically where the system has liblua5.4.a, as Debian's lua5.4 is (the
# shared library costs ~0.3 ms a call in PLT calls and relocations); the
# interpreter's symbols are exported for C modules (lua-cjson).
LAUNCHER     := build/bin/nslua
LUA_LIBDIR   ?= $(shell $(PKG_CONFIG) --variable=libdir lua5.4 2>/dev/null)
LUA_LIBS     ?= $(or $(wildcard $(LUA_LIBDIR)/liblua5.4.a),$(shell $(PKG_CONFIG) --libs lua5.4 2>/dev/null),-llua5.4)
# where `make install` puts scripts/nslua, to be run with lua5.4
NSLUA_LIBEXEC ?= $(PREFIX)/lib/nslua

# The setuid launcher of `nslua isolate` (docs/isolate.md "Callers without root"): what it
# execs is fixed when it is built, from the paths `make install` uses: the
# nslua program, with package.path and package.cpath $(LUADIR) and
# $(LIBDIR) then the interpreter's own defaults without the relative
# entries ("./?.lua": the caller's working directory).  A change of any of
# these rebuilds it.
ISOLATE_PROGRAM   ?= $(BINDIR)/nslua
# (a lua -e line: no comma or hash, which make would take)
ISOLATE_PATHS = $(or $(shell $(LUA_INTERP) -E -e 'local s = [[$(2)]] local seen = {} \
                  for p in s:gmatch("[^;]+") do seen[p] = true end \
                  for p in package.$(1):gmatch("[^;]+") do if p:find("^/") and not seen[p] then \
                  seen[p] = true s = s .. ";" .. p end end io.write(s)' 2>/dev/null),$(2))
ISOLATE_LUA_PATH  ?= $(call ISOLATE_PATHS,path,$(LUADIR)/?.lua;$(LUADIR)/?/init.lua)
ISOLATE_LUA_CPATH ?= $(call ISOLATE_PATHS,cpath,$(LIBDIR)/?.so)
ISOLATE_GROUP     ?= isolate
ISOLATE_OUT       ?= build/nslua-isolate
ISOLATE_DEFS = -DISOLATE_PROGRAM='"$(ISOLATE_PROGRAM)"' \
               -DISOLATE_LUA_PATH='"$(ISOLATE_LUA_PATH)"' -DISOLATE_LUA_CPATH='"$(ISOLATE_LUA_CPATH)"'

# Precompiled Lua (debug info kept) for the launcher: loading bytecode skips
# the parse, ~10x faster than source.  scripts/luac heads each chunk with
# the digest of its source, and scripts/nslua uses it only while the source
# require finds has that digest (docs/install.md "Precompiled modules").
# argparse is the CLI's biggest module.
LUA_SRCS := $(wildcard lua/nslua/*.lua lua/nslua/cli/*.lua lua/nslua/oci/*.lua)
LUAC_OUT := $(LUA_SRCS:lua/%.lua=build/lua/%.luac)
ARGPARSE := $(shell $(LUA) -e 'io.write(package.searchpath("argparse", package.path) or "")' 2>/dev/null)
ifneq ($(ARGPARSE),)
LUAC_OUT += build/lua/argparse.luac
endif

.PHONY: all check sanitize fuzz install clean demo bench bench-doc lint man completions cli-doc FORCE

all: $(TARGET) $(LAUNCHER) build/bin/nslua-oci $(LUAC_OUT) $(ISOLATE_OUT)

# the -D values, rewritten only when they change
FORCE:
$(ISOLATE_OUT).defs: FORCE
	@mkdir -p $(@D)
	@printf '%s\n' "$(subst ",\",$(subst $$,\$$,$(ISOLATE_DEFS)))" | cmp -s - $@ || \
	  printf '%s\n' "$(subst ",\",$(subst $$,\$$,$(ISOLATE_DEFS)))" >$@

$(ISOLATE_OUT): csrc/isolate-launcher.c $(ISOLATE_OUT).defs
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -D_GNU_SOURCE $(WARN) $(ISOLATE_DEFS) $(CFLAGS) $(LDFLAGS) -o $@ $<

build/lua/%.luac: lua/%.lua scripts/luac
	@mkdir -p $(@D)
	$(LUA) scripts/luac $< $@

build/lua/argparse.luac: $(ARGPARSE) scripts/luac
	@mkdir -p $(@D)
	$(LUA) scripts/luac $< $@

build/obj/%.o: csrc/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

# seccomp.build: the checksum of csrc/seccomp.c, which builds seccomp programs, part of
# the seccomp cache's key (nslua.seccomp_cache)
build/obj/seccomp.o: ALL_CFLAGS += -DNSLUA_SECCOMP_C='"$(firstword $(shell cksum < csrc/seccomp.c))"'

$(TARGET): $(OBJS)
	@mkdir -p $(@D)
	$(CC) -shared $(LDFLAGS) -o $@ $(OBJS) $(DEP_LIBS)

# (scripts/nslua is built in with .incbin, which -MMD does not see)
build/obj/launcher.o: csrc/launcher.c scripts/nslua
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -DNSLUA_LAUNCHER_LUA='"scripts/nslua"' -MMD -MP -c -o $@ $<

$(LAUNCHER): build/obj/launcher.o $(OBJS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -Wl,-E -o $@ build/obj/launcher.o $(OBJS) $(LUA_LIBS) $(DEP_LIBS) -lm -ldl

# the OCI runtime's name, as scripts/nslua-oci is the script's
build/bin/nslua-oci: $(LAUNCHER)
	ln -sfn nslua $@

check: all
	$(BUSTED) --lua=$(LUA) $(BUSTED_ARGS)

# ASan/UBSan: lua5.4 itself is not instrumented, so the runtime is preloaded
# into busted only; sandboxed payloads get a clean environment (no LD_PRELOAD).
sanitize:
	$(MAKE) clean
	$(MAKE) NODEPS=1 CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined" \
	        LDFLAGS="-fsanitize=address,undefined"
	rc=0; LD_PRELOAD="$$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so)" \
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	        $(BUSTED) --lua=$(LUA) $(BUSTED_ARGS) || rc=$$?; \
	$(MAKE) clean && $(MAKE) NODEPS=1 && exit $$rc

# Fuzz the front ends (scripts/fuzz/fuzz.lua) for FUZZ_SECONDS under
# ASan/UBSan, built and preloaded as `make sanitize` does; FUZZ_SEED and
# FUZZ_CASE replay a case it printed.  The normal build is restored after.
FUZZ_SECONDS ?= 60
fuzz:
	$(MAKE) clean
	$(MAKE) NODEPS=1 CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined" \
	        LDFLAGS="-fsanitize=address,undefined"
	rc=0; LD_PRELOAD="$$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so)" \
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	FUZZ_SECONDS="$(FUZZ_SECONDS)" FUZZ_SEED="$(FUZZ_SEED)" FUZZ_CASE="$(FUZZ_CASE)" \
	        $(LUA) scripts/fuzz/fuzz.lua || rc=$$?; \
	$(MAKE) clean && $(MAKE) NODEPS=1 && exit $$rc

# The command line's reference, from the parsers' own tables
# (scripts/gen-cli-doc, nslua.cli.doc): docs/cli.md's generated part (kept
# in git; spec/cli/doc_spec.lua fails when it is stale), the man pages
# (scdoc sources, then scdoc) and the shell completions.  They load the
# CLI, so the core first.
CLI_DOC_SRCS := $(wildcard lua/nslua/cli/*.lua) lua/nslua/limits.lua scripts/gen-cli-doc
MANPAGES     := build/nslua.1 build/nslua-oci.1
COMPLETIONS  := build/completions/nslua.bash build/completions/_nslua build/completions/nslua.fish

cli-doc: $(TARGET)
	$(LUA) scripts/gen-cli-doc markdown docs/cli.md

man: $(MANPAGES)

build/%.1.scd: $(CLI_DOC_SRCS) $(TARGET)
	@mkdir -p $(@D)
	$(LUA) scripts/gen-cli-doc scdoc $* > $@.tmp && mv $@.tmp $@

build/%.1: build/%.1.scd
	@command -v $(SCDOC) >/dev/null || { echo "make man: no $(SCDOC) (scripts/deps.sh installs it)" >&2; exit 1; }
	$(SCDOC) < $< > $@.tmp && mv $@.tmp $@

completions: $(COMPLETIONS)

build/completions/nslua.bash: $(CLI_DOC_SRCS) $(TARGET)
	@mkdir -p $(@D)
	$(LUA) scripts/gen-cli-doc bash > $@.tmp && mv $@.tmp $@

build/completions/_nslua: $(CLI_DOC_SRCS) $(TARGET)
	@mkdir -p $(@D)
	$(LUA) scripts/gen-cli-doc zsh > $@.tmp && mv $@.tmp $@

build/completions/nslua.fish: $(CLI_DOC_SRCS) $(TARGET)
	@mkdir -p $(@D)
	$(LUA) scripts/gen-cli-doc fish > $@.tmp && mv $@.tmp $@

install: all man completions
	@if [ "$(ISOLATE_SETUID)" = 1 ] && ! getent group '$(ISOLATE_GROUP)' >/dev/null; then \
	  echo "make install: ISOLATE_GROUP '$(ISOLATE_GROUP)' does not exist" \
	       "(groupadd --system $(ISOLATE_GROUP), or ISOLATE_GROUP=NAME)" >&2; \
	  exit 1; \
	fi
	install -D -m 0755 $(TARGET) $(DESTDIR)$(LIBDIR)/nslua/core.so
	install -d $(DESTDIR)$(LUADIR)/nslua/recipes $(DESTDIR)$(LUADIR)/nslua/cli $(DESTDIR)$(LUADIR)/nslua/oci
	install -m 0644 lua/nslua/*.lua $(DESTDIR)$(LUADIR)/nslua/
	install -m 0644 lua/nslua/cli/*.lua $(DESTDIR)$(LUADIR)/nslua/cli/
	install -m 0644 lua/nslua/oci/*.lua $(DESTDIR)$(LUADIR)/nslua/oci/
	install -m 0644 lua/nslua/recipes/*.lua $(DESTDIR)$(LUADIR)/nslua/recipes/
	# each module's precompiled chunk beside its installed source, named
	# as that file in tracebacks (the launcher loads it while the source
	# has the digest it was compiled from: several ms a run less than
	# parsing it; docs/install.md "Precompiled modules")
	$(foreach m,$(LUA_SRCS:lua/%=%),$(LUA) scripts/luac $(DESTDIR)$(LUADIR)/$(m) $(DESTDIR)$(LUADIR)/$(m)c \
	  '@$(LUADIR)/$(m)' && chmod 0644 $(DESTDIR)$(LUADIR)/$(m)c &&) true
	# the nslua program (csrc/launcher.c), which nslua-isolate execs; the
	# script it has built in goes to NSLUA_LIBEXEC, to be run by lua5.4
	# (the interpreter named directly: an `env` line costs a PATH search)
	install -D -m 0755 $(LAUNCHER) $(DESTDIR)$(BINDIR)/nslua
	install -d $(DESTDIR)$(NSLUA_LIBEXEC)
	sed '1s|^#!.*|#!$(LUA_INTERP)|' scripts/nslua > $(DESTDIR)$(NSLUA_LIBEXEC)/nslua && chmod 0755 $(DESTDIR)$(NSLUA_LIBEXEC)/nslua
	# BWRAP_LINK=1: `bwrap` runs nslua's bubblewrap front end (docs/bwrap.md)
	if [ "$(BWRAP_LINK)" = 1 ]; then ln -sf nslua $(DESTDIR)$(BINDIR)/bwrap; fi
	# nslua-oci: the OCI runtime (runc's command line; docs/oci.md)
	ln -sf nslua $(DESTDIR)$(BINDIR)/nslua-oci
	# ISOLATE_SETUID=1: nslua-isolate, setuid root, for the members of
	# ISOLATE_GROUP (docs/isolate.md "Callers without root"); ISOLATE_LINK=1: `isolate` runs
	# nslua's isolate front end (a link to nslua-isolate with ISOLATE_SETUID=1)
	if [ "$(ISOLATE_SETUID)" = 1 ]; then \
	  install -D -o root -g '$(ISOLATE_GROUP)' -m 4750 $(ISOLATE_OUT) $(DESTDIR)$(BINDIR)/nslua-isolate; \
	elif [ -e $(DESTDIR)$(BINDIR)/nslua-isolate ]; then \
	  echo "make install: $(DESTDIR)$(BINDIR)/nslua-isolate is an earlier install's, left as it was;" \
	       "one built before the nslua program ran $(BINDIR)/nslua as a script and now fails:" \
	       "install again with ISOLATE_SETUID=1 (docs/install.md)" >&2; \
	fi
	if [ "$(ISOLATE_LINK)" = 1 ]; then \
	  ln -sfn $(if $(filter 1,$(ISOLATE_SETUID)),nslua-isolate,nslua) $(DESTDIR)$(BINDIR)/isolate; \
	fi
	# man pages and shell completions (make man, make completions)
	install -D -m 0644 build/nslua.1 $(DESTDIR)$(MANDIR)/nslua.1
	install -D -m 0644 build/nslua-oci.1 $(DESTDIR)$(MANDIR)/nslua-oci.1
	install -D -m 0644 build/completions/nslua.bash $(DESTDIR)$(BASHCOMPDIR)/nslua
	# bash-completion loads a command's file by its name: nslua-oci's is nslua's
	ln -sf nslua $(DESTDIR)$(BASHCOMPDIR)/nslua-oci
	install -D -m 0644 build/completions/_nslua $(DESTDIR)$(ZSHCOMPDIR)/_nslua
	install -D -m 0644 build/completions/nslua.fish $(DESTDIR)$(FISHCOMPDIR)/nslua.fish

# Runs a command in the default sandbox (PID, mount, UTS, IPC, network,
# cgroup and user namespaces) and prints what it sees.
demo: all
	scripts/nslua run --hostname demo -- /bin/sh -c '\
	  echo "hostname:  $$(hostname)"; \
	  echo "ids:       $$(id)"; \
	  echo "processes: $$(cd /proc && echo [0-9]*) (1 is the init, 2 this shell)"; \
	  echo "links:     $$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " ")"; \
	  echo "root:      $$(ls / | tr "\n" " ")"; \
	  echo "mounts:"; cat /proc/self/mounts'

bench: all
	scripts/deps.sh --bench
	$(MAKE) -C scripts/bench
	$(LUA) scripts/bench/run.lua $(BENCH_ARGS)

# docs/bench.md below its marker line, generated from docs/bench.json (the
# targets and the tables); `make bench-doc BENCH_JSON=build/bench/latest.json`
# takes the last `make bench` run's results first
BENCH_JSON ?= docs/bench.json
BENCH_MARK := <!-- generated by make bench-doc from docs/bench.json: do not edit below -->
bench-doc:
	@if [ "$(BENCH_JSON)" != docs/bench.json ]; then cp $(BENCH_JSON) docs/bench.json; fi
	@grep -qxF '$(BENCH_MARK)' docs/bench.md || { echo "docs/bench.md has no marker line" >&2; exit 1; }
	{ sed '/^<!-- generated by make bench-doc/q' docs/bench.md; echo; \
	  $(LUA) scripts/bench/run.lua --render docs/bench.json; } > docs/bench.md.new
	mv docs/bench.md.new docs/bench.md

# cppcheck over the C (the launcher with -D values of its own: cppcheck skips
# code that needs an undefined macro, and splits a -D value at ';'), luacheck (.luacheckrc) over the Lua; both run, and
# either one's warnings fail the target.
lint:
	rc=0; \
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability -i csrc/isolate-launcher.c \
	  -i csrc/launcher.c csrc/ || rc=1; \
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability -DNSLUA_LAUNCHER_LUA='"scripts/nslua"' \
	  csrc/launcher.c || rc=1; \
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability -DISOLATE_PROGRAM='"/nslua"' \
	  -DISOLATE_LUA_PATH='"/?.lua"' -DISOLATE_LUA_CPATH='"/?.so"' \
	  csrc/isolate-launcher.c || rc=1; \
	$(LUACHECK) --no-color --formatter plain --codes . || rc=1; \
	exit $$rc

clean:
	rm -rf build
	$(MAKE) -C scripts/bench clean 2>/dev/null || true

-include $(OBJS:.o=.d) build/obj/launcher.d
