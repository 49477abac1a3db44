/* init.c - core.proc's init: PID 1 reaps, forwards signals, writes the exit record. */
/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nslua.h"
#include "status.h"

/* ------------------------------------------------------------------ */
/* proc.init: the container's PID 1, one C function                     */
/* ------------------------------------------------------------------ */

/* The "init" status record (status.h), stop the command we cannot
** supervise, _exit(1).  As a pid namespace's init, every process of it
** first: none may run on unwatched (the set-id guard, guard.c). */
static void init_fail (int status_fd, pid_t cmd, const char *step,
                       int err) __attribute__((noreturn));
static void init_fail (int status_fd, pid_t cmd, const char *step, int err) {
  (void)nslua_status_init(status_fd, step, err);
  if (syscall(SYS_getpid) == 1)
    (void)kill(-1, SIGKILL);
  else if (cmd > 0)
    kill(cmd, SIGKILL);
  _exit(1);
}

/* Reap whatever has ended; 0 when children remain, else errno (ECHILD). */
static int init_reap (pid_t cmd, int *done, int *status, struct rusage *ru, int *xfsz) {
  for (;;) {
    struct rusage r;
    int st;
    pid_t pid = wait4(-1, &st, WNOHANG, &r);
    if (pid == 0)
      return 0;
    if (pid < 0) {
      if (errno == EINTR)
        continue;
      return errno;
    }
    if (pid == cmd) {
      *done = 1;
      *status = st;
      *ru = r;
    } else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGXFSZ)
      *xfsz = 1;  /* an orphan hit the output limit */
  }
}

void nslua_init_run (int cmd, int status_fd, int *keep, size_t nkeep, const exec_late *late,
                     int same_session, int guard) {
  struct signalfd_siginfo si[16];
  struct rusage ru, cru;
  sigset_t all;
  int sfd, pid1 = syscall(SYS_getpid) == 1;
  int done = 0, status = 0, xfsz = 0, n;
  long long end_ns;

  /* Every signal blocked and read from a signalfd: a blocked signal is
  ** queued even for a pid namespace's init, which the kernel otherwise
  ** shields from every signal it has no handler for.  SIG_IGN would drop
  ** signals before the signalfd sees them, and an ignored SIGCHLD would
  ** reap the command behind our back: back to SIG_DFL. */
  sigfillset(&all);
  if (sigprocmask(SIG_SETMASK, &all, NULL) != 0)
    init_fail(status_fd, cmd, "signals", errno);
  nslua_reset_dispositions();
  /* Outside a pid namespace, orphans of the command must still come to us. */
  if (!pid1 && prctl(PR_SET_CHILD_SUBREAPER, 1UL, 0, 0, 0) != 0)
    init_fail(status_fd, cmd, "subreaper", errno);
  sfd = signalfd(-1, &all, SFD_CLOEXEC);
  if (sfd < 0)
    init_fail(status_fd, cmd, "signalfd", errno);
  keep[0] = status_fd;
  keep[1] = sfd;
  if (nslua_close_fds_except(keep, (int)nkeep) != 0)
    init_fail(status_fd, cmd, "fds", errno);
  /* Not dumpable: no ptrace and no /proc/1/mem from inside the sandbox. */
  if (prctl(PR_SET_DUMPABLE, 0UL, 0, 0, 0) != 0)
    init_fail(status_fd, cmd, "dumpable", errno);

  memset(&ru, 0, sizeof ru);
  for (;;) {
    ssize_t r;
    int err = init_reap(cmd, &done, &status, &ru, &xfsz);
    if (done)
      break;
    if (err != 0)  /* no children left and none was the command */
      init_fail(status_fd, -1, "wait", err);
    if (guard >= 0) {
      /* the guard's answerer gone: the opens it would answer would wait
      ** for ever, or pass once the group goes; end the sandbox */
      struct pollfd pf[2] = { { sfd, POLLIN, 0 }, { guard, POLLIN, 0 } };
      if (poll(pf, 2, -1) < 0) {
        if (errno == EINTR)
          continue;
        init_fail(status_fd, cmd, "poll", errno);
      }
      if (pf[1].revents != 0)
        init_fail(status_fd, cmd, "guard", EPIPE);
      if (!(pf[0].revents & POLLIN))
        continue;
    }
    r = read(sfd, si, sizeof si);
    if (r < 0) {
      if (errno == EINTR || errno == EAGAIN)
        continue;
      init_fail(status_fd, cmd, "read", errno);
    }
    for (n = 0; n < (int)(r / (ssize_t)sizeof si[0]); n++) {
      int sig = (int)si[n].ssi_signo;
      /* the kernel's signal to our process group (a terminal's) reached
      ** the command too when it shares the group */
      if (sig != SIGCHLD && !(same_session && si[n].ssi_code == SI_KERNEL))
        (void)kill(cmd, sig);
    }
  }

  end_ns = nslua_now_ns();  /* the end of the command's clock ("exit" <t>) */

  /* The command is gone.  As a pid namespace's init, take the rest with it
  ** and reap them, so RUSAGE_CHILDREN covers every process that ran.
  ** kill(-1) from a pid namespace's init stays inside the namespace; as a
  ** mere subreaper it would hit the whole host, so only reap there. */
  if (pid1) {
    (void)kill(-1, SIGKILL);
    for (;;) {
      int st;
      pid_t pid = wait4(-1, &st, 0, NULL);
      if (pid < 0) {
        if (errno == EINTR)
          continue;
        break;
      }
      if (WIFSIGNALED(st) && WTERMSIG(st) == SIGXFSZ)
        xfsz = 1;
    }
  } else
    (void)init_reap(cmd, &done, &status, &ru, &xfsz);
  if (getrusage(RUSAGE_CHILDREN, &cru) != 0)
    memset(&cru, 0, sizeof cru);
  /* the command's exec tail failed and could not say so (its filter
  ** forbade the write): its record comes from here */
  if (late != NULL && late->pending)
    (void)nslua_status_exec(status_fd, late->step, late->err,
                            late->detail[0] != '\0' ? late->detail : NULL);
  /* the parent may be gone: then there is nobody to tell */
  (void)nslua_status_exit(status_fd, status, &ru, &cru, xfsz, end_ns);
  _exit(0);
}

static const char *const init_opt_names[] = {"keep_fds", NULL};

/*
** proc.init(cmd_pid, status_fd [, {keep_fds = {fd, ...}}]) -> never returns
** The container's PID 1 (a child subreaper when it is not PID 1): keeps
** only fds 0-2, status_fd, its signalfd and keep_fds; forwards every signal
** but SIGCHLD to cmd_pid; reaps every child; when cmd_pid ends writes the
** "exit" record to status_fd and _exit(0)s.  A set-up failure writes the
** "init <step> <errno>" record and _exit(1)s.  The records: status.h.
*/
static int proc_init (lua_State *L) {
  lua_Integer cmd = luaL_checkinteger(L, 1);
  int status_fd;
  size_t i, n = 0;
  int *keep;
  luaL_argcheck(L, cmd >= INT_MIN + 1 && cmd <= INT_MAX, 1, "pid out of range");
  status_fd = nslua_checkfd(L, 2);
  luaL_argcheck(L, cmd > 0, 1, "pid must be > 0");
  if (!lua_isnoneornil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    nslua_check_opt_names(L, 3, init_opt_names);
  } else {
    lua_settop(L, 2);
    lua_newtable(L);
  }
  lua_settop(L, 3);
  {
    const int *fds = nslua_opt_fds(L, 3, "keep_fds", &n);
    keep = (int *)lua_newuserdatauv(L, (n + 2) * sizeof *keep, 0);
    for (i = 0; i < n; i++)
      keep[i + 2] = fds[i];
  }
  nslua_init_run((int)cmd, status_fd, keep, n + 2, NULL, 0, -1);
  return 0;
}

/* Registered into core.proc by proc.c. */
/*
** proc.status(fd, "pid", n) -> true | nil, msg, errno
** proc.status(fd, "setup", step, errno, message) -> true | nil, msg, errno
** A status record (status.h) from Lua code that stands where the executor
** would (the exec helper): the same writers, so the pipe has one format.
*/
static const char *const status_kinds[] = { "pid", "setup", NULL };

static int proc_status (lua_State *L) {
  int fd = nslua_checkfd(L, 1), err;
  if (luaL_checkoption(L, 2, NULL, status_kinds) == 0) {
    lua_Integer pid = luaL_checkinteger(L, 3);
    luaL_argcheck(L, pid > 0 && pid <= INT_MAX, 3, "not a pid");
    err = nslua_status_pid(fd, (pid_t)pid);
  } else {
    const char *step = luaL_checkstring(L, 3);
    lua_Integer e = luaL_checkinteger(L, 4);
    luaL_argcheck(L, e >= 0 && e <= INT_MAX, 4, "not an errno");
    luaL_argcheck(L, strpbrk(step, " \n") == NULL && *step != '\0', 3, "a step is one word");
    err = nslua_status_setup_msg(fd, step, (int)e, luaL_checkstring(L, 5));
  }
  if (err != 0)
    return nslua_fail(L, err, "write", "status");
  return nslua_ok(L);
}

const luaL_Reg nslua_proc_init_funcs[] = {
  {"init", proc_init},
  {"status", proc_status},
  {NULL, NULL}
};
