/* spawn.c - core.proc's spawn: the command in a CLONE_VM|CLONE_VFORK child. */
/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include "nslua.h"

/* The child of nslua_spawn: stdio in place, then the exec tail. */
typedef struct spawn_arg {
  exec_plan *p;
  const int *stdio;             /* stdio[t] < 0: keep what is there */
} spawn_arg;

void nslua_exec_child (exec_plan *p, const int stdio[3]) {
  int t;
  for (t = 0; t < 3; t++)
    if (stdio[t] >= 0 && stdio[t] != t && dup2(stdio[t], t) < 0)
      nslua_exec_fail(p, "stdio", errno, NULL);
  nslua_exec_run(p);
}

static int spawn_child (void *arg) {
  spawn_arg *a = (spawn_arg *)arg;
  nslua_exec_child(a->p, a->stdio);
}

#define SPAWN_STACK (256 * 1024)

/* CLONE_VM|CLONE_VFORK, as posix_spawn: returns once the child has called
** execve or failed.  The child writes only its own stack, the plan's
** scratch and, through libcap, the (suspended) caller's heap. */
int nslua_spawn (exec_plan *p, const int stdio[3], exec_late **late) {
  spawn_arg a;
  sigset_t all, old;
  char *stack;
  int pid, err;
  a.p = p;
  a.stdio = stdio;
  nslua_exec_set_late(p, NULL);
  if (late != NULL) {
    /* shared even with fork semantics (the sanitizer build) */
    void *m = mmap(NULL, sizeof **late, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    *late = m == MAP_FAILED ? NULL : (exec_late *)m;
    nslua_exec_set_late(p, *late);
  }
#if defined(NSLUA_ASAN)
  /* `make sanitize`: fork semantics (see nslua.h), and as with vfork we
  ** return once the child has let go of us: the end of file of a pipe
  ** whose write end it closes (its fd step) or loses at execve, so the
  ** times the caller takes next (the init's "pid" record) are as late */
  {
    int gate[2];
    char b;
    (void)stack;
    (void)all;
    (void)old;
    if (pipe2(gate, O_CLOEXEC) != 0)
      return -1;
    pid = fork();
    if (pid == 0) {
      close(gate[0]);
      spawn_child(&a);
    }
    err = errno;
    close(gate[1]);
    if (pid > 0)
      while (read(gate[0], &b, 1) < 0 && errno == EINTR)
        ;
    close(gate[0]);
    errno = err;
    return pid;
  }
#else
  stack = mmap(NULL, SPAWN_STACK, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED)
    return -1;
  /* As posix_spawn: the child starts with every signal blocked, so none of
  ** our handlers runs on memory it shares with us before exec_run resets
  ** the dispositions. */
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, &old);
  pid = clone(spawn_child, stack + SPAWN_STACK, CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
  err = errno;
  sigprocmask(SIG_SETMASK, &old, NULL);
  munmap(stack, SPAWN_STACK);
  errno = err;
  return pid;
#endif
}

/*
** proc.spawn(argv, env [, opts [, stdio]]) -> pid | nil, msg, errno
** proc.exec in a new child, started with CLONE_VM|CLONE_VFORK (as
** posix_spawn does): the caller's address space is neither copied nor
** write-protected, so neither side pays copy-on-write faults for it, and
** the call returns once the child has called execve or failed.  stdio
** {[0] = fd, [1] = fd, [2] = fd} is dup2'd onto 0-2 first.  The arguments
** are those of proc.exec, read and checked here; a failed step is reported
** on opts.status_fd as by proc.exec.
*/
static int proc_spawn (lua_State *L) {
  int stdio[3], t, pid;
  /* CLONE_VFORK stops only this thread; others would share the child's heap */
  nslua_check_single_thread(L, "spawn");
  if (!lua_isnoneornil(L, 4))
    luaL_checktype(L, 4, LUA_TTABLE);
  for (t = 0; t < 3; t++) {
    stdio[t] = -1;
    if (lua_istable(L, 4)) {
      lua_geti(L, 4, t);
      if (!lua_isnil(L, -1))  /* a box stays alive in the caller's table */
        stdio[t] = nslua_checkfd(L, lua_gettop(L));
      lua_pop(L, 1);
    }
  }
  pid = nslua_spawn(nslua_exec_args(L, "spawn"), stdio, NULL);
  if (pid < 0)
    return nslua_fail(L, errno, "clone", NULL);
  lua_pushinteger(L, pid);
  return 1;
}

/* Registered into core.proc by proc.c. */
const luaL_Reg nslua_proc_spawn_funcs[] = {
  {"spawn", proc_spawn},
  {NULL, NULL}
};
