/* launcher.c - build/bin/nslua: the nslua command as a program of its own. */
/* SPDX-License-Identifier: MIT */
/*
** `lua5.4 scripts/nslua ARGS` pays, on every call, for what the CLI never
** uses: lua5.4 loads readline and tinfo, and require "nslua.core" dlopens
** core.so with RTLD_NOW, which resolves each of its symbols across every
** library (docs/bench.md "The nslua program").  This program is Lua 5.4
** (liblua5.4.a where the system has it, as Debian's lua5.4 is built) with
** the core linked in (package.preload["nslua.core"]), and it runs the same
** launcher, scripts/nslua, built in: one code path, not a second CLI.
**
** It does what lua5.4 does before a script: the table `arg` (arg[0] is
** this program's name as called, so a link named nslua-oci, bwrap or
** isolate is that front end; arg[-1] its own path, /proc/self/exe, where
** scripts/nslua finds the checkout or the installed prefix's modules),
** LUA_INIT_5_4 or LUA_INIT, the
** generational collector, and ^C during Lua code raising "interrupted!"
** in it (the CLI then unwinds and cleans up as under lua5.4).
*/
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#ifndef NSLUA_LAUNCHER_LUA
#error "NSLUA_LAUNCHER_LUA (the path of scripts/nslua) comes from the Makefile"
#endif

int luaopen_nslua_core (lua_State *L);

/* scripts/nslua, as it was when this program was built, and its length
** (global but hidden: with LTO the C below may land in another partition
** than this top-level asm) */
__asm__(".section .rodata\n"
        ".balign 4\n"
        ".globl nslua_launcher_len\n"
        ".hidden nslua_launcher_len\n"
        ".type nslua_launcher_len, %object\n"
        ".size nslua_launcher_len, 4\n"
        "nslua_launcher_len:\n"
        ".long 2f - 1f\n"
        ".globl nslua_launcher_text\n"
        ".hidden nslua_launcher_text\n"
        ".type nslua_launcher_text, %object\n"
        ".size nslua_launcher_text, 2f - 1f + 1\n"
        "nslua_launcher_text:\n"
        "1:\n"
        ".incbin \"" NSLUA_LAUNCHER_LUA "\"\n"
        "2:\n"
        ".byte 0\n"
        ".previous\n");
extern const char nslua_launcher_text[];
extern const uint32_t nslua_launcher_len;

/* An error that escapes the launcher (LUA_INIT's, or one scripts/nslua
** does not catch) is printed and exits 1, as under lua5.4. */
#define PROG "nslua"

static lua_State *running;   /* the state ^C interrupts */

static void stop_hook (lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  luaL_error(L, "interrupted!");
}

/* ^C: the next Lua instruction raises (lua5.4's behaviour); a second ^C
** before that kills as the default action does. */
static void on_sigint (int sig) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, NULL);
  lua_sethook(running, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

static void set_sigint (void (*handler)(int)) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
}

static int traceback (lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
      return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

/* Call the function below its nargs arguments; an error is printed. */
static int call (lua_State *L, int nargs) {
  int base = lua_gettop(L) - nargs;
  lua_pushcfunction(L, traceback);
  lua_insert(L, base);
  running = L;
  set_sigint(on_sigint);
  int status = lua_pcall(L, nargs, 0, base);
  set_sigint(SIG_DFL);
  lua_remove(L, base);
  if (status != LUA_OK) {
    fprintf(stderr, "%s: %s\n", PROG, lua_tostring(L, -1));
    fflush(stderr);
    lua_pop(L, 1);
  }
  return status;
}

/* LUA_INIT_5_4, else LUA_INIT: a file (@NAME) or a chunk, as lua5.4 runs it */
static int run_init (lua_State *L) {
  const char *name = "=LUA_INIT_5_4";
  const char *init = getenv(name + 1);
  if (init == NULL) {
    name = "=LUA_INIT";
    init = getenv(name + 1);
  }
  if (init == NULL) return LUA_OK;
  int status = init[0] == '@' ? luaL_loadfile(L, init + 1)
                              : luaL_loadbuffer(L, init, strlen(init), name);
  if (status != LUA_OK) {
    fprintf(stderr, "%s: %s\n", PROG, lua_tostring(L, -1));
    return status;
  }
  return call(L, 0);
}

/* arg: [-1] this program's own path, [0] the name it was called by, then
** the arguments */
static void make_arg (lua_State *L, int argc, char **argv) {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  lua_createtable(L, argc > 0 ? argc - 1 : 0, 2);
  if (n > 0) {
    self[n] = '\0';
    lua_pushstring(L, self);
    lua_rawseti(L, -2, -1);
  }
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i);
  }
  lua_setglobal(L, "arg");
}

static int pmain (lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = (char **)lua_touserdata(L, 2);
  luaL_openlibs(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_nslua_core);
  lua_setfield(L, -2, "nslua.core");
  lua_pop(L, 1);
  make_arg(L, argc, argv);
  lua_gc(L, LUA_GCRESTART);
  lua_gc(L, LUA_GCGEN, 0, 0);
  if (run_init(L) != LUA_OK) {
    lua_pushinteger(L, EXIT_FAILURE);
    return 1;
  }
  /* a first "#!" line is skipped as luaL_loadfile skips it: its newline
  ** stays, so the line numbers are the file's */
  const char *text = nslua_launcher_text;
  size_t len = nslua_launcher_len;
  if (len > 0 && text[0] == '#') {
    const char *nl = memchr(text, '\n', len);
    size_t skip = nl ? (size_t)(nl - text) : len;
    text += skip;
    len -= skip;
  }
  if (luaL_loadbuffer(L, text, len, "@" NSLUA_LAUNCHER_LUA) != LUA_OK) {
    fprintf(stderr, "%s: %s\n", PROG, lua_tostring(L, -1));
    lua_pushinteger(L, EXIT_FAILURE);
    return 1;
  }
  /* (scripts/nslua ends in os.exit: returning means it raised) */
  lua_pushinteger(L, call(L, 0) == LUA_OK ? EXIT_SUCCESS : EXIT_FAILURE);
  return 1;
}

int main (int argc, char **argv) {
  lua_State *L = luaL_newstate();
  if (L == NULL) {
    fprintf(stderr, "%s: cannot create the Lua state: not enough memory\n", PROG);
    return EXIT_FAILURE;
  }
  lua_gc(L, LUA_GCSTOP);
  lua_pushcfunction(L, pmain);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  int code = EXIT_FAILURE;
  if (lua_pcall(L, 2, 1, 0) == LUA_OK) {
    code = (int)lua_tointeger(L, -1);
  } else {
    fprintf(stderr, "%s: %s\n", PROG, lua_tostring(L, -1));
  }
  lua_close(L);
  return code;
}
