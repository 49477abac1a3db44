/* proc.c - processes: exec tail, init, wait, signals, pidfds, rlimits, prctl, fds. */
/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nslua.h"

/* rusage as {utime = s, stime = s, maxrss_kb = n} */
static void push_rusage (lua_State *L, const struct rusage *ru) {
  lua_createtable(L, 0, 3);
  lua_pushnumber(L, (lua_Number)ru->ru_utime.tv_sec + ru->ru_utime.tv_usec / 1e6);
  lua_setfield(L, -2, "utime");
  lua_pushnumber(L, (lua_Number)ru->ru_stime.tv_sec + ru->ru_stime.tv_usec / 1e6);
  lua_setfield(L, -2, "stime");
  lua_pushinteger(L, ru->ru_maxrss);
  lua_setfield(L, -2, "maxrss_kb");
}

static const nslua_flag wait_flags[] = {
  {"nohang", WNOHANG},
  {NULL, 0}
};

/*
** proc.waitpid(pid [, {nohang = true}]) -> pid, "exited"|"signaled", code, rusage
**                                        | 0 (nohang, still running) | nil, msg, errno
** Retries on EINTR.
*/
static int proc_waitpid (lua_State *L) {
  lua_Integer pid = luaL_checkinteger(L, 1);
  int flags = (int)nslua_optflags(L, 2, wait_flags);
  struct rusage ru;
  int status;
  pid_t r;
  do
    r = wait4((pid_t)pid, &status, flags, &ru);
  while (r < 0 && errno == EINTR);
  if (r < 0)
    return nslua_fail(L, errno, "waitpid", NULL);
  lua_pushinteger(L, r);
  if (r == 0)
    return 1;
  if (WIFSIGNALED(status)) {
    lua_pushliteral(L, "signaled");
    lua_pushinteger(L, WTERMSIG(status));
  } else {
    lua_pushliteral(L, "exited");
    lua_pushinteger(L, WEXITSTATUS(status));
  }
  push_rusage(L, &ru);
  return 4;
}

/* proc._exit([code]) -> never returns: no atexit handlers, no stdio flush. */
static int proc__exit (lua_State *L) {
  lua_Integer code = luaL_optinteger(L, 1, 0);
  _exit((int)(code & 0xff));
  return 0;
}

static const luaL_Reg proc_funcs[] = {
  {"_exit", proc__exit},
  {"waitpid", proc_waitpid},
  {NULL, NULL}
};

int nslua_open_proc (lua_State *L) {
  luaL_newlib(L, proc_funcs);
  return 1;
}
