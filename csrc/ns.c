/* ns.c - namespaces: clone, clone3, unshare, setns, ns fds and ids, id maps, hostname. */
/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "nslua.h"

static const nslua_flag ns_flags[] = {
  {"cgroup", CLONE_NEWCGROUP},
  {"ipc",    CLONE_NEWIPC},
  {"mnt",    CLONE_NEWNS},
  {"net",    CLONE_NEWNET},
  {"pid",    CLONE_NEWPID},
  {"time",   CLONE_NEWTIME},
  {"user",   CLONE_NEWUSER},
  {"uts",    CLONE_NEWUTS},
  {NULL, 0}
};

/*
** A raw clone duplicates only the calling thread: a multi-threaded Lua host
** would leave the child with locks held by threads that no longer exist.
** /proc/self/task has st_nlink == 2 + number of threads: one stat.
*/
static void check_single_thread (lua_State *L) {
  struct stat st;
  if (stat("/proc/self/task", &st) == 0 && st.st_nlink > 3)
    luaL_error(L, "clone: the process has %d threads; nslua needs a "
               "single-threaded process", (int)st.st_nlink - 2);
}

/*
** ns.clone{pid = true, ...} -> pid in the parent, 0 in the child | nil, msg, errno
** fork(2) semantics (raw SYS_clone, SIGCHLD, no new stack, no CLONE_VM): the
** child goes on running the same Lua code.  The child's collector is
** stopped before it returns, so no finalizer of the parent's objects (fd
** boxes, containers) ever runs in the child.  Flush Lua io buffers before
** calling.  'time' is refused: CLONE_NEWTIME is only valid for unshare.
*/
static int ns_clone (lua_State *L) {
  unsigned long flags = nslua_optflags(L, 1, ns_flags);
  long pid;
  luaL_argcheck(L, !(flags & CLONE_NEWTIME), 1,
                "'time' is not a clone flag: unshare{time = true}, offsets, then clone");
  check_single_thread(L);
  pid = syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
  if (pid < 0)
    return nslua_fail(L, errno, "clone", NULL);
  if (pid == 0)
    lua_gc(L, LUA_GCSTOP);
  lua_pushinteger(L, pid);
  return 1;
}

/* ns.unshare{net = true, uts = true} -> true | nil, msg, errno */
static int ns_unshare (lua_State *L) {
  int flags = (int)nslua_checkflags(L, 1, ns_flags);
  if (unshare(flags) != 0)
    return nslua_fail(L, errno, "unshare", NULL);
  return nslua_ok(L);
}

/* ns.sethostname(name) -> true | nil, msg, errno */
static int ns_sethostname (lua_State *L) {
  size_t len;
  const char *name = luaL_checklstring(L, 1, &len);
  luaL_argcheck(L, len > 0 && len <= 64, 1, "hostname must be 1..64 bytes");
  if (sethostname(name, len) != 0)
    return nslua_fail(L, errno, "sethostname", name);
  return nslua_ok(L);
}

static const luaL_Reg ns_funcs[] = {
  {"clone", ns_clone},
  {"sethostname", ns_sethostname},
  {"unshare", ns_unshare},
  {NULL, NULL}
};

int nslua_open_ns (lua_State *L) {
  luaL_newlib(L, ns_funcs);
  return 1;
}
