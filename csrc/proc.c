/* proc.c - processes: exec tail, init, wait, signals, pidfds, rlimits, prctl, fds. */
/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "nslua.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* ------------------------------------------------------------------ */
/* helpers without a lua_State: safe in the fixed sequences            */
/* ------------------------------------------------------------------ */

static int sys_close_range (unsigned int lo, unsigned int hi, unsigned int flags) {
#ifdef SYS_close_range
  return (int)syscall(SYS_close_range, lo, hi, flags);
#else
  errno = ENOSYS;
  return -1;
#endif
}

/* Fallback for kernels before 5.9 (5.11 for CLOSE_RANGE_CLOEXEC): walk
** /proc/self/fd.  Only ever used in a single-threaded child. */
static int close_range_slow (unsigned int lo, unsigned int hi, unsigned int flags) {
  DIR *d = opendir("/proc/self/fd");
  struct dirent *de;
  if (d == NULL)
    return -1;
  while ((de = readdir(d)) != NULL) {
    char *end;
    unsigned long fd = strtoul(de->d_name, &end, 10);
    if (de->d_name[0] == '.' || *end != '\0' || (int)fd == dirfd(d))
      continue;
    if (fd < lo || fd > hi)
      continue;
    if (flags & CLOSE_RANGE_CLOEXEC)
      (void)fcntl((int)fd, F_SETFD, FD_CLOEXEC);
    else
      (void)close((int)fd);
  }
  closedir(d);
  return 0;
}

static int close_range_any (unsigned int lo, unsigned int hi, unsigned int flags) {
  if (sys_close_range(lo, hi, flags) == 0)
    return 0;
  if (errno != ENOSYS && errno != EINVAL)
    return -1;
  return close_range_slow(lo, hi, flags);
}

/* Close every fd >= 3 that is not in keep[0..n) (sorted here, in place). */
static int close_fds_except (int *keep, int n) {
  unsigned int lo = 3;
  int i, j;
  for (i = 1; i < n; i++)
    for (j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
      int t = keep[j];
      keep[j] = keep[j - 1];
      keep[j - 1] = t;
    }
  for (i = 0; i < n; i++) {
    if (keep[i] < 0 || (unsigned int)keep[i] < lo)
      continue;
    if ((unsigned int)keep[i] > lo && close_range_any(lo, (unsigned int)keep[i] - 1, 0) != 0)
      return -1;
    lo = (unsigned int)keep[i] + 1;
  }
  return close_range_any(lo, ~0U, 0);
}

/* Every disposition back to SIG_DFL.  KILL and STOP cannot be changed and
** glibc refuses its two internal signals (32, 33): EINVAL is expected. */
static void reset_dispositions (void) {
  struct sigaction sa;
  int sig;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  sigemptyset(&sa.sa_mask);
  for (sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP)
      (void)sigaction(sig, &sa, NULL);
}

/* Write all of buf, retrying on EINTR and short writes; 0 or errno. */
static int write_all (int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return errno;
    }
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}

/* ------------------------------------------------------------------ */
/* signal names                                                         */
/* ------------------------------------------------------------------ */

static const struct {
  const char *name;
  int sig;
} signames[] = {
  {"HUP", SIGHUP}, {"INT", SIGINT}, {"QUIT", SIGQUIT}, {"ILL", SIGILL},
  {"TRAP", SIGTRAP}, {"ABRT", SIGABRT}, {"BUS", SIGBUS}, {"FPE", SIGFPE},
  {"KILL", SIGKILL}, {"USR1", SIGUSR1}, {"SEGV", SIGSEGV}, {"USR2", SIGUSR2},
  {"PIPE", SIGPIPE}, {"ALRM", SIGALRM}, {"TERM", SIGTERM}, {"STKFLT", SIGSTKFLT},
  {"CHLD", SIGCHLD}, {"CONT", SIGCONT}, {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},
  {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU}, {"URG", SIGURG}, {"XCPU", SIGXCPU},
  {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH},
  {"IO", SIGIO}, {"PWR", SIGPWR}, {"SYS", SIGSYS},
  /* aliases: accepted by signum, never returned by signame */
  {"IOT", SIGABRT}, {"POLL", SIGIO}, {"CLD", SIGCHLD},
};
#define NSIGNAMES_CANON 31

/* Name without "SIG" for 1..SIGRTMAX into buf; NULL for 32/33 (glibc's). */
static const char *sig_name (int sig, char *buf, size_t size) {
  size_t i;
  for (i = 0; i < NSIGNAMES_CANON; i++)
    if (signames[i].sig == sig)
      return signames[i].name;
  if (sig == SIGRTMIN)
    return "RTMIN";
  if (sig > SIGRTMIN && sig <= SIGRTMAX) {
    snprintf(buf, size, "RTMIN+%d", sig - SIGRTMIN);
    return buf;
  }
  return NULL;
}

/* "TERM", "SIGTERM", "RTMIN", "RTMIN+3", "RTMAX": the number or -1. */
static int sig_number (const char *name) {
  size_t i;
  if (strncmp(name, "SIG", 3) == 0)
    name += 3;
  for (i = 0; i < sizeof signames / sizeof signames[0]; i++)
    if (strcmp(signames[i].name, name) == 0)
      return signames[i].sig;
  if (strcmp(name, "RTMIN") == 0)
    return SIGRTMIN;
  if (strcmp(name, "RTMAX") == 0)
    return SIGRTMAX;
  if (strncmp(name, "RTMIN+", 6) == 0) {
    char *end;
    long k = strtol(name + 6, &end, 10);
    if (*end == '\0' && end != name + 6 && k >= 0 && k <= SIGRTMAX - SIGRTMIN)
      return SIGRTMIN + (int)k;
  }
  return -1;
}

/* A signal at 'arg': integer minsig..SIGRTMAX or a name ("TERM", "SIGTERM"). */
static int check_signal (lua_State *L, int arg, int minsig) {
  int sig;
  if (lua_type(L, arg) == LUA_TNUMBER) {
    lua_Integer n = luaL_checkinteger(L, arg);
    luaL_argcheck(L, n >= minsig && n <= SIGRTMAX, arg, "signal number out of range");
    return (int)n;
  }
  sig = sig_number(luaL_checkstring(L, arg));
  if (sig < 0)
    luaL_argerror(L, arg, lua_pushfstring(L, "unknown signal '%s'", lua_tostring(L, arg)));
  return sig;
}

/* A list of signals {"TERM", "INT", 17} at 'arg' into a set. */
static void check_sigset (lua_State *L, int arg, sigset_t *set) {
  lua_Integer i, n;
  luaL_checktype(L, arg, LUA_TTABLE);
  sigemptyset(set);
  n = (lua_Integer)lua_rawlen(L, arg);
  for (i = 1; i <= n; i++) {
    int sig = -1, t = lua_rawgeti(L, arg, i);
    if (t == LUA_TNUMBER && lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1
        && lua_tointeger(L, -1) <= SIGRTMAX)
      sig = (int)lua_tointeger(L, -1);
    else if (t == LUA_TSTRING && (sig = sig_number(lua_tostring(L, -1))) > 0)
      ;
    else
      luaL_argerror(L, arg, lua_pushfstring(L, "unknown signal '%s' at index %d",
                                            luaL_tolstring(L, -1, NULL), (int)i));
    sigaddset(set, sig);
    lua_pop(L, 1);
  }
}

/* An fd box or integer stored in a table field (the value at the top). */
static int field_fd (lua_State *L, int arg, const char *what) {
  int *box;
  if (lua_type(L, -1) == LUA_TNUMBER && lua_isinteger(L, -1)) {
    lua_Integer fd = lua_tointeger(L, -1);
    if (fd < 0 || fd > INT_MAX)
      luaL_argerror(L, arg, lua_pushfstring(L, "%s: fd out of range", what));
    return (int)fd;
  }
  box = (int *)luaL_testudata(L, -1, NSLUA_FD);
  if (box == NULL)
    return luaL_argerror(L, arg, lua_pushfstring(L, "%s must be an fd box or integer", what));
  if (*box < 0)
    luaL_argerror(L, arg, lua_pushfstring(L, "%s: attempt to use a closed fd", what));
  return *box;
}

/* ------------------------------------------------------------------ */
/* wait, exit, kill, pidfds                                             */
/* ------------------------------------------------------------------ */

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

/*
** proc.execv(argv) -> only returns on failure: nil, msg, errno
** A plain execv of argv[1] (an absolute path) with the caller's environment,
** credentials and capabilities: for the setuid helpers newuidmap and
** newgidmap (DESIGN: the one program nslua runs), never a shell.  The
** container's command goes through proc.exec instead.
*/
static int proc_execv (lua_State *L) {
  lua_Integer i, n;
  char **argv;
  luaL_checktype(L, 1, LUA_TTABLE);
  n = (lua_Integer)lua_rawlen(L, 1);
  luaL_argcheck(L, n >= 1 && n < 4096, 1, "argv must hold 1..4095 strings");
  argv = (char **)lua_newuserdatauv(L, (size_t)(n + 1) * sizeof *argv, 0);
  for (i = 0; i < n; i++) {
    lua_rawgeti(L, 1, i + 1);
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_argerror(L, 1, "argv must hold strings");
    argv[i] = (char *)lua_tostring(L, -1);
    lua_pop(L, 1);  /* argument 1 keeps the string alive */
  }
  argv[n] = NULL;
  luaL_argcheck(L, argv[0][0] == '/', 1, "argv[1] must be an absolute path");
  execv(argv[0], argv);
  return nslua_fail(L, errno, "execv", argv[0]);
}

/* proc._exit([code]) -> never returns: no atexit handlers, no stdio flush. */
static int proc__exit (lua_State *L) {
  lua_Integer code = luaL_optinteger(L, 1, 0);
  _exit((int)(code & 0xff));
  return 0;
}

static pid_t check_pid (lua_State *L, int arg) {
  lua_Integer pid = luaL_checkinteger(L, arg);
  luaL_argcheck(L, pid >= INT_MIN + 1 && pid <= INT_MAX, arg, "pid out of range");
  return (pid_t)pid;
}

/* proc.kill(pid, sig) -> true | nil, msg, errno   (sig 0 probes; names "TERM"/"SIGTERM") */
static int proc_kill (lua_State *L) {
  pid_t pid = check_pid(L, 1);
  int sig = check_signal(L, 2, 0);
  if (kill(pid, sig) != 0) {
    int err = errno;
    return nslua_fail(L, err, "kill", lua_pushfstring(L, "%d", (int)pid));
  }
  return nslua_ok(L);
}

/* proc.pidfd_open(pid) -> fd box | nil, msg, errno   (pidfds are always close-on-exec) */
static int proc_pidfd_open (lua_State *L) {
  pid_t pid = check_pid(L, 1);
  int *box;
  luaL_argcheck(L, pid > 0, 1, "pid must be > 0");
  box = nslua_newfd(L);
  *box = (int)syscall(SYS_pidfd_open, pid, 0);
  if (*box < 0) {
    int err = errno;
    *box = -1;
    return nslua_fail(L, err, "pidfd_open", lua_pushfstring(L, "%d", (int)pid));
  }
  return 1;
}

/* proc.pidfd_send_signal(pidfd, sig) -> true | nil, msg, errno */
static int proc_pidfd_send_signal (lua_State *L) {
  int fd = nslua_checkfd(L, 1);
  int sig = check_signal(L, 2, 0);
  if (syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0) != 0)
    return nslua_fail(L, errno, "pidfd_send_signal", NULL);
  return nslua_ok(L);
}

/* ------------------------------------------------------------------ */
/* poll                                                                 */
/* ------------------------------------------------------------------ */

static const nslua_flag poll_flags[] = {
  {"in", POLLIN},
  {"out", POLLOUT},
  {"pri", POLLPRI},
  {"rdhup", POLLRDHUP},
  {NULL, 0}
};

static const nslua_flag poll_revents[] = {
  {"in", POLLIN}, {"out", POLLOUT}, {"pri", POLLPRI}, {"rdhup", POLLRDHUP},
  {"hup", POLLHUP}, {"err", POLLERR}, {"nval", POLLNVAL},
  {NULL, 0}
};

/* The events set at the top of the stack, for entry 'i' of argument 1. */
static short check_events (lua_State *L, int i) {
  int bits = 0;
  if (lua_isnil(L, -1))
    return 0;
  if (!lua_istable(L, -1))
    luaL_argerror(L, 1, lua_pushfstring(L, "entry %d: events must be a set table", i));
  lua_pushnil(L);
  while (lua_next(L, -2) != 0) {
    const nslua_flag *f = poll_flags;
    const char *name = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
    while (name != NULL && f->name != NULL && strcmp(f->name, name) != 0)
      f++;
    if (name == NULL || f->name == NULL)
      luaL_argerror(L, 1, lua_pushfstring(L, "entry %d: unknown event '%s' (valid: in out "
                                          "pri rdhup)", i, luaL_tolstring(L, -2, NULL)));
    if (!lua_isboolean(L, -1))
      luaL_argerror(L, 1, lua_pushfstring(L, "entry %d: event '%s' must be a boolean",
                                          i, name));
    if (lua_toboolean(L, -1))
      bits |= (int)f->bits;
    lua_pop(L, 1);
  }
  return (short)bits;
}

static long long now_ms (void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
** proc.poll({{fd = fd, events = {["in"] = true, out = true}}, ...}, timeout_ms)
**   -> number ready | nil, msg, errno
** Sets entry.revents = {in, out, pri, rdhup, hup, err, nval = booleans} on every
** entry.  timeout -1 waits forever; 0 returns at once.  EINTR is retried with
** the time that is left, so a timeout ends in 0, never in EINTR.  An empty
** list makes poll a sleep.
*/
static int proc_poll (lua_State *L) {
  lua_Integer timeout = luaL_optinteger(L, 2, -1);
  size_t i, n;
  struct pollfd *pfds;
  long long deadline = 0;
  int r, left;

  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_argcheck(L, timeout >= -1 && timeout <= INT_MAX, 2, "timeout out of range");
  n = (size_t)lua_rawlen(L, 1);
  luaL_argcheck(L, n <= 65536, 1, "too many entries");
  pfds = (struct pollfd *)lua_newuserdatauv(L, (n ? n : 1) * sizeof *pfds, 0);
  for (i = 0; i < n; i++) {
    char what[32];
    snprintf(what, sizeof what, "entry %d fd", (int)i + 1);
    if (lua_rawgeti(L, 1, (lua_Integer)i + 1) != LUA_TTABLE)
      luaL_argerror(L, 1, lua_pushfstring(L, "entry %d must be a table", (int)i + 1));
    lua_getfield(L, -1, "fd");
    pfds[i].fd = field_fd(L, 1, what);
    lua_pop(L, 1);
    lua_getfield(L, -1, "events");
    pfds[i].events = check_events(L, (int)i + 1);
    pfds[i].revents = 0;
    lua_pop(L, 2);
  }
  if (timeout > 0)
    deadline = now_ms() + timeout;
  left = (int)timeout;
  for (;;) {
    r = poll(pfds, (nfds_t)n, left);
    if (r >= 0 || errno != EINTR)
      break;
    if (timeout > 0) {
      long long rest = deadline - now_ms();
      left = rest > 0 ? (int)rest : 0;
    }
  }
  if (r < 0)
    return nslua_fail(L, errno, "poll", NULL);
  for (i = 0; i < n; i++) {
    const nslua_flag *f;
    lua_rawgeti(L, 1, (lua_Integer)i + 1);
    lua_createtable(L, 0, 7);
    for (f = poll_revents; f->name != NULL; f++) {
      lua_pushboolean(L, (pfds[i].revents & (short)f->bits) != 0);
      lua_setfield(L, -2, f->name);
    }
    lua_setfield(L, -2, "revents");
    lua_pop(L, 1);
  }
  lua_pushinteger(L, r);
  return 1;
}

/* ------------------------------------------------------------------ */
/* signals                                                              */
/* ------------------------------------------------------------------ */

static const char *const mask_names[] = {"block", "unblock", "setmask", NULL};
static const int mask_hows[] = {SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK};

/*
** proc.sigprocmask("block"|"unblock"|"setmask", {"TERM", "INT", ...})
**   -> the previous mask as a list of signal numbers | nil, msg, errno
** The previous mask can be passed back with "setmask" to restore it.
*/
static int proc_sigprocmask (lua_State *L) {
  int how = luaL_checkoption(L, 1, NULL, mask_names);
  sigset_t set, old;
  int sig, n = 0;
  check_sigset(L, 2, &set);
  if (sigprocmask(mask_hows[how], &set, &old) != 0)
    return nslua_fail(L, errno, "sigprocmask", NULL);
  lua_newtable(L);
  for (sig = 1; sig <= SIGRTMAX; sig++) {
    if (sigismember(&old, sig) == 1) {
      lua_pushinteger(L, sig);
      lua_rawseti(L, -2, ++n);
    }
  }
  return 1;
}

static const nslua_flag sfd_flags[] = {
  {"nonblock", SFD_NONBLOCK},
  {NULL, 0}
};

/*
** proc.signalfd({"TERM", "CHLD", ...} [, {nonblock = true}]) -> fd box | nil, msg, errno
** Always SFD_CLOEXEC.  The signals must also be blocked (sigprocmask), or
** their default action runs before the fd ever sees them.
*/
static int proc_signalfd (lua_State *L) {
  sigset_t set;
  int flags, *box;
  check_sigset(L, 1, &set);
  flags = (int)nslua_optflags(L, 2, sfd_flags);
  box = nslua_newfd(L);
  *box = signalfd(-1, &set, SFD_CLOEXEC | flags);
  if (*box < 0) {
    int err = errno;
    *box = -1;
    return nslua_fail(L, err, "signalfd", NULL);
  }
  return 1;
}

/* proc.sigread(sfd) -> signo, sender_pid, signame | nil, msg, errno (EAGAIN when
** a nonblocking signalfd has nothing pending).  One signal per call. */
static int proc_sigread (lua_State *L) {
  int fd = nslua_checkfd(L, 1);
  struct signalfd_siginfo si;
  char buf[16];
  const char *name;
  ssize_t n;
  do
    n = read(fd, &si, sizeof si);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return nslua_fail(L, errno, "read", NULL);
  if (n != (ssize_t)sizeof si)
    return nslua_fail(L, EINVAL, "read", NULL);
  lua_pushinteger(L, si.ssi_signo);
  lua_pushinteger(L, si.ssi_pid);
  name = sig_name((int)si.ssi_signo, buf, sizeof buf);
  if (name != NULL)
    lua_pushstring(L, name);
  else
    lua_pushnil(L);
  return 3;
}

/* proc.reset_signals() -> true | nil, msg, errno   (every disposition SIG_DFL, empty mask) */
static int proc_reset_signals (lua_State *L) {
  sigset_t none;
  sigemptyset(&none);
  reset_dispositions();
  if (sigprocmask(SIG_SETMASK, &none, NULL) != 0)
    return nslua_fail(L, errno, "sigprocmask", NULL);
  return nslua_ok(L);
}

/* proc.signame(n) -> "TERM" | nil (no name: 0, 32, 33, out of range) */
static int proc_signame (lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  char buf[16];
  const char *name = (n >= 1 && n <= SIGRTMAX) ? sig_name((int)n, buf, sizeof buf) : NULL;
  if (name == NULL)
    luaL_pushfail(L);
  else
    lua_pushstring(L, name);
  return 1;
}

/* proc.signum("TERM" | "SIGTERM" | "RTMIN+2") -> integer; an unknown name raises */
static int proc_signum (lua_State *L) {
  luaL_checkstring(L, 1);
  lua_pushinteger(L, check_signal(L, 1, 1));
  return 1;
}

/* ------------------------------------------------------------------ */
/* rlimits                                                              */
/* ------------------------------------------------------------------ */

static const char *const rlimit_names[] = {
  "as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice",
  "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack", NULL
};
static const int rlimit_res[] = {
  RLIMIT_AS, RLIMIT_CORE, RLIMIT_CPU, RLIMIT_DATA, RLIMIT_FSIZE, RLIMIT_LOCKS,
  RLIMIT_MEMLOCK, RLIMIT_MSGQUEUE, RLIMIT_NICE, RLIMIT_NOFILE, RLIMIT_NPROC,
  RLIMIT_RSS, RLIMIT_RTPRIO, RLIMIT_RTTIME, RLIMIT_SIGPENDING, RLIMIT_STACK
};

static void push_rlim (lua_State *L, rlim_t v) {
  if (v == RLIM_INFINITY)
    lua_pushnumber(L, HUGE_VAL);
  else if (v > (rlim_t)LUA_MAXINTEGER)
    lua_pushnumber(L, (lua_Number)v);
  else
    lua_pushinteger(L, (lua_Integer)v);
}

/* A limit value at stack index 'idx': a non-negative integer or math.huge. */
static int to_rlim (lua_State *L, int idx, rlim_t *v) {
  if (lua_type(L, idx) != LUA_TNUMBER)
    return 0;
  if (lua_isinteger(L, idx)) {
    lua_Integer n = lua_tointeger(L, idx);
    if (n < 0)
      return 0;
    *v = (rlim_t)n;
    return 1;
  }
  if (lua_tonumber(L, idx) == HUGE_VAL) {
    *v = RLIM_INFINITY;
    return 1;
  }
  return 0;
}

/* proc.getrlimit(name) -> soft, hard | nil, msg, errno   (RLIM_INFINITY is math.huge) */
static int proc_getrlimit (lua_State *L) {
  int which = luaL_checkoption(L, 1, NULL, rlimit_names);
  struct rlimit rl;
  if (getrlimit(rlimit_res[which], &rl) != 0)
    return nslua_fail(L, errno, "getrlimit", rlimit_names[which]);
  push_rlim(L, rl.rlim_cur);
  push_rlim(L, rl.rlim_max);
  return 2;
}

/* proc.setrlimit(name, soft [, hard]) -> true | nil, msg, errno
** Values are integers or math.huge; hard defaults to the current hard limit. */
static int proc_setrlimit (lua_State *L) {
  int which = luaL_checkoption(L, 1, NULL, rlimit_names);
  struct rlimit rl;
  luaL_argcheck(L, to_rlim(L, 2, &rl.rlim_cur), 2,
                "limit must be a non-negative integer or math.huge");
  if (lua_isnoneornil(L, 3)) {
    struct rlimit cur;
    if (getrlimit(rlimit_res[which], &cur) != 0)
      return nslua_fail(L, errno, "getrlimit", rlimit_names[which]);
    rl.rlim_max = cur.rlim_max;
  } else
    luaL_argcheck(L, to_rlim(L, 3, &rl.rlim_max), 3,
                  "limit must be a non-negative integer or math.huge");
  if (setrlimit(rlimit_res[which], &rl) != 0)
    return nslua_fail(L, errno, "setrlimit", rlimit_names[which]);
  return nslua_ok(L);
}

/* ------------------------------------------------------------------ */
/* prctl                                                                */
/* ------------------------------------------------------------------ */

static const char *const prctl_names[] = {
  "child_subreaper", "dumpable", "keepcaps", "name", "no_new_privs", "pdeathsig",
  "get_child_subreaper", "get_dumpable", "get_keepcaps", "get_name",
  "get_no_new_privs", "get_pdeathsig", NULL
};
enum {
  PR_SUBREAPER, PR_DUMPABLE, PR_KEEPCAPS, PR_NAME, PR_NNP, PR_PDEATHSIG,
  PR_GET_SUBREAPER, PR_GET_DUMPABLE_, PR_GET_KEEPCAPS_, PR_GET_NAME_, PR_GET_NNP,
  PR_GET_PDEATHSIG_
};

static int check_bool (lua_State *L, int arg) {
  luaL_checktype(L, arg, LUA_TBOOLEAN);
  return lua_toboolean(L, arg);
}

/*
** proc.prctl(option [, value]) -> true | value | nil, msg, errno
**   "no_new_privs", true           (it cannot be unset)
**   "pdeathsig", sig | 0           "child_subreaper", bool
**   "dumpable", bool               "keepcaps", bool
**   "name", string (1..15 bytes)
**   "get_<option>" -> boolean, signal number (0 = none) or name
*/
static int proc_prctl (lua_State *L) {
  int opt = luaL_checkoption(L, 1, NULL, prctl_names);
  const char *what = prctl_names[opt];
  char name[17];
  int r = 0, v = 0;
  switch (opt) {
    case PR_SUBREAPER:
      r = prctl(PR_SET_CHILD_SUBREAPER, (unsigned long)check_bool(L, 2), 0, 0, 0);
      break;
    case PR_DUMPABLE:
      r = prctl(PR_SET_DUMPABLE, (unsigned long)check_bool(L, 2), 0, 0, 0);
      break;
    case PR_KEEPCAPS:
      r = prctl(PR_SET_KEEPCAPS, (unsigned long)check_bool(L, 2), 0, 0, 0);
      break;
    case PR_NAME: {
      size_t len;
      const char *s = luaL_checklstring(L, 2, &len);
      luaL_argcheck(L, len >= 1 && len <= 15 && strlen(s) == len, 2,
                    "name must be 1..15 bytes without NUL");
      r = prctl(PR_SET_NAME, (unsigned long)s, 0, 0, 0);
      break;
    }
    case PR_NNP:
      luaL_argcheck(L, check_bool(L, 2), 2, "no_new_privs cannot be unset");
      r = prctl(PR_SET_NO_NEW_PRIVS, 1UL, 0, 0, 0);
      break;
    case PR_PDEATHSIG:
      r = prctl(PR_SET_PDEATHSIG, (unsigned long)check_signal(L, 2, 0), 0, 0, 0);
      break;
    case PR_GET_SUBREAPER:
      r = prctl(PR_GET_CHILD_SUBREAPER, (unsigned long)&v, 0, 0, 0);
      break;
    case PR_GET_DUMPABLE_:
      r = v = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
      break;
    case PR_GET_KEEPCAPS_:
      r = v = prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0);
      break;
    case PR_GET_NAME_:
      memset(name, 0, sizeof name);
      r = prctl(PR_GET_NAME, (unsigned long)name, 0, 0, 0);
      break;
    case PR_GET_NNP:
      r = v = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
      break;
    case PR_GET_PDEATHSIG_:
      r = prctl(PR_GET_PDEATHSIG, (unsigned long)&v, 0, 0, 0);
      break;
    default:
      break;
  }
  if (r < 0)
    return nslua_fail(L, errno, "prctl", what);
  switch (opt) {
    case PR_GET_SUBREAPER: case PR_GET_DUMPABLE_: case PR_GET_KEEPCAPS_: case PR_GET_NNP:
      lua_pushboolean(L, v != 0);
      return 1;
    case PR_GET_PDEATHSIG_:
      lua_pushinteger(L, v);
      return 1;
    case PR_GET_NAME_:
      lua_pushstring(L, name);
      return 1;
    default:
      return nslua_ok(L);
  }
}

/* ------------------------------------------------------------------ */
/* ids, sessions                                                        */
/* ------------------------------------------------------------------ */

/* An id at 'arg': 0..2^32-2, or -1 for "unchanged". */
static unsigned int check_id (lua_State *L, int arg) {
  lua_Integer id = luaL_checkinteger(L, arg);
  luaL_argcheck(L, id >= -1 && id < 0xffffffffLL, arg, "id out of range");
  return (unsigned int)id;
}

/* proc.setresuid(r, e, s) -> true | nil, msg, errno   (-1 leaves one unchanged) */
static int proc_setresuid (lua_State *L) {
  uid_t r = check_id(L, 1), e = check_id(L, 2), s = check_id(L, 3);
  if (setresuid(r, e, s) != 0)
    return nslua_fail(L, errno, "setresuid", NULL);
  return nslua_ok(L);
}

/* proc.setresgid(r, e, s) -> true | nil, msg, errno   (-1 leaves one unchanged) */
static int proc_setresgid (lua_State *L) {
  gid_t r = check_id(L, 1), e = check_id(L, 2), s = check_id(L, 3);
  if (setresgid(r, e, s) != 0)
    return nslua_fail(L, errno, "setresgid", NULL);
  return nslua_ok(L);
}

/* A list of gids at 'arg' into GC-owned memory; *n gets the count. */
static gid_t *check_gids (lua_State *L, int idx, int arg, size_t *n, const char *what) {
  size_t i;
  gid_t *gids;
  idx = lua_absindex(L, idx);
  *n = (size_t)lua_rawlen(L, idx);
  if (*n > NGROUPS_MAX)
    luaL_argerror(L, arg, lua_pushfstring(L, "%s: too many groups", what));
  gids = (gid_t *)lua_newuserdatauv(L, (*n ? *n : 1) * sizeof *gids, 0);
  for (i = 0; i < *n; i++) {
    lua_Integer g = -1;
    lua_rawgeti(L, idx, (lua_Integer)i + 1);
    if (!lua_isinteger(L, -1) || (g = lua_tointeger(L, -1)) < 0 || g >= 0xffffffffLL)
      luaL_argerror(L, arg, lua_pushfstring(L, "%s: element %d is not a valid gid",
                                            what, (int)i + 1));
    gids[i] = (gid_t)g;
    lua_pop(L, 1);
  }
  return gids;
}

/* proc.setgroups({gid, ...}) -> true | nil, msg, errno   ({} drops them all) */
static int proc_setgroups (lua_State *L) {
  size_t n;
  gid_t *gids;
  luaL_checktype(L, 1, LUA_TTABLE);
  gids = check_gids(L, 1, 1, &n, "groups");
  if (setgroups(n, n ? gids : NULL) != 0)
    return nslua_fail(L, errno, "setgroups", NULL);
  return nslua_ok(L);
}

/* proc.setsid() -> sid | nil, msg, errno */
static int proc_setsid (lua_State *L) {
  pid_t sid = setsid();
  if (sid < 0)
    return nslua_fail(L, errno, "setsid", NULL);
  lua_pushinteger(L, sid);
  return 1;
}

/* proc.getpid() -> integer   (a real syscall: nothing is cached across raw clones) */
static int proc_getpid (lua_State *L) {
  lua_pushinteger(L, (lua_Integer)syscall(SYS_getpid));
  return 1;
}

/* proc.getppid() -> integer */
static int proc_getppid (lua_State *L) {
  lua_pushinteger(L, getppid());
  return 1;
}

/* proc.getuid() -> integer */
static int proc_getuid (lua_State *L) {
  lua_pushinteger(L, getuid());
  return 1;
}

/* proc.getgid() -> integer */
static int proc_getgid (lua_State *L) {
  lua_pushinteger(L, getgid());
  return 1;
}

/* proc.geteuid() -> integer */
static int proc_geteuid (lua_State *L) {
  lua_pushinteger(L, geteuid());
  return 1;
}

/* proc.getegid() -> integer */
static int proc_getegid (lua_State *L) {
  lua_pushinteger(L, getegid());
  return 1;
}

/* ------------------------------------------------------------------ */
/* fds                                                                  */
/* ------------------------------------------------------------------ */

static const nslua_flag pipe_flags[] = {
  {"nonblock", O_NONBLOCK},
  {NULL, 0}
};

/* proc.pipe([{nonblock = true}]) -> read box, write box | nil, msg, errno   (O_CLOEXEC) */
static int proc_pipe (lua_State *L) {
  int flags = (int)nslua_optflags(L, 1, pipe_flags);
  int *rbox = nslua_newfd(L), *wbox = nslua_newfd(L);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC | flags) != 0)
    return nslua_fail(L, errno, "pipe2", NULL);
  *rbox = fds[0];
  *wbox = fds[1];
  return 2;
}

/* proc.socketpair([{nonblock = true}]) -> box, box | nil, msg, errno
** (AF_UNIX, SOCK_STREAM, SOCK_CLOEXEC) */
static int proc_socketpair (lua_State *L) {
  int flags = nslua_optflags(L, 1, pipe_flags) ? SOCK_NONBLOCK : 0;
  int *abox = nslua_newfd(L), *bbox = nslua_newfd(L);
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | flags, 0, fds) != 0)
    return nslua_fail(L, errno, "socketpair", NULL);
  *abox = fds[0];
  *bbox = fds[1];
  return 2;
}

/* proc.read(fd, n) -> string ("" at end of file) | nil, msg, errno (EAGAIN too)
** At most n bytes, one read(2); retried on EINTR. */
static int proc_read (lua_State *L) {
  int fd = nslua_checkfd(L, 1);
  lua_Integer want = luaL_checkinteger(L, 2);
  luaL_Buffer b;
  char *p;
  ssize_t n;
  luaL_argcheck(L, want > 0 && want <= (1 << 26), 2, "size must be 1..64 MiB");
  p = luaL_buffinitsize(L, &b, (size_t)want);
  do
    n = read(fd, p, (size_t)want);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return nslua_fail(L, errno, "read", NULL);
  luaL_pushresultsize(&b, (size_t)n);
  return 1;
}

/* proc.write(fd, s) -> bytes written | nil, msg, errno
** Loops over short writes and EINTR.  A failure after some bytes went out
** returns that count (less than #s); a failure before returns the triple. */
static int proc_write (lua_State *L) {
  int fd = nslua_checkfd(L, 1);
  size_t len, done = 0;
  const char *s = luaL_checklstring(L, 2, &len);
  while (done < len) {
    ssize_t n = write(fd, s + done, len - done);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      if (done == 0)
        return nslua_fail(L, errno, "write", NULL);
      break;
    }
    done += (size_t)n;
  }
  lua_pushinteger(L, (lua_Integer)done);
  return 1;
}

/* proc.dup2(oldfd, newfd) -> newfd | nil, msg, errno
** The new fd is inheritable (no FD_CLOEXEC): that is what dup2 is for.
** oldfd == newfd clears FD_CLOEXEC on it for the same reason. */
static int proc_dup2 (lua_State *L) {
  int oldfd = nslua_checkfd(L, 1);
  lua_Integer newfd = luaL_checkinteger(L, 2);
  luaL_argcheck(L, newfd >= 0 && newfd <= INT_MAX, 2, "fd out of range");
  if (oldfd == (int)newfd) {
    int fl = fcntl(oldfd, F_GETFD);
    if (fl < 0 || fcntl(oldfd, F_SETFD, fl & ~FD_CLOEXEC) != 0)
      return nslua_fail(L, errno, "fcntl", NULL);
  } else if (dup2(oldfd, (int)newfd) < 0)
    return nslua_fail(L, errno, "dup2", NULL);
  lua_pushinteger(L, newfd);
  return 1;
}

/* proc.close(fd) -> true | nil, msg, errno   (an integer: boxes close with :close()) */
static int proc_close (lua_State *L) {
  lua_Integer fd = luaL_checkinteger(L, 1);
  luaL_argcheck(L, fd >= 0 && fd <= INT_MAX, 1, "fd out of range");
  if (close((int)fd) != 0)
    return nslua_fail(L, errno, "close", NULL);
  return nslua_ok(L);
}

static const nslua_flag close_range_flags[] = {
  {"cloexec", CLOSE_RANGE_CLOEXEC},
  {NULL, 0}
};

/* proc.close_range(first [, last [, {cloexec = true}]]) -> true | nil, msg, errno
** last defaults to the largest fd.  Boxes whose fd it closes are not told. */
static int proc_close_range (lua_State *L) {
  lua_Integer first = luaL_checkinteger(L, 1);
  lua_Integer last = luaL_optinteger(L, 2, 0xffffffffLL);
  unsigned int flags = (unsigned int)nslua_optflags(L, 3, close_range_flags);
  luaL_argcheck(L, first >= 0 && first <= 0xffffffffLL, 1, "fd out of range");
  luaL_argcheck(L, last >= first && last <= 0xffffffffLL, 2, "fd out of range");
  if (close_range_any((unsigned int)first, (unsigned int)last, flags) != 0)
    return nslua_fail(L, errno, "close_range", NULL);
  return nslua_ok(L);
}

static const nslua_flag open_flags[] = {
  {"append", O_APPEND},
  {"creat", O_CREAT},
  {"directory", O_DIRECTORY},
  {"excl", O_EXCL},
  {"nofollow", O_NOFOLLOW},
  {"nonblock", O_NONBLOCK},
  {"path", O_PATH},
  {"rdonly", O_RDONLY},
  {"rdwr", O_RDWR},
  {"trunc", O_TRUNC},
  {"wronly", O_WRONLY},
  {NULL, 0}
};

/* proc.open(path, {rdonly|wronly|rdwr, creat, ...} [, mode]) -> fd box | nil, msg, errno
** Always O_CLOEXEC; mode defaults to 0666 (less the umask). */
static int proc_open (lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  int flags = (int)nslua_checkflags(L, 2, open_flags);
  lua_Integer mode = luaL_optinteger(L, 3, 0666);
  int *box;
  luaL_argcheck(L, (flags & O_ACCMODE) != O_ACCMODE, 2,
                "at most one of rdonly, wronly, rdwr");
  luaL_argcheck(L, mode >= 0 && mode <= 07777, 3, "mode out of range");
  box = nslua_newfd(L);
  *box = open(path, flags | O_CLOEXEC, (mode_t)mode);
  if (*box < 0) {
    int err = errno;
    *box = -1;
    return nslua_fail(L, err, "open", path);
  }
  return 1;
}

static const char *const flock_names[] = {"ex", "sh", "un", NULL};
static const int flock_ops[] = {LOCK_EX, LOCK_SH, LOCK_UN};

/* proc.flock(fd, "ex"|"sh"|"un" [, nonblock]) -> true | nil, msg, errno (EWOULDBLOCK)
** A blocking lock is retried on EINTR. */
static int proc_flock (lua_State *L) {
  int fd = nslua_checkfd(L, 1);
  int op = flock_ops[luaL_checkoption(L, 2, NULL, flock_names)];
  int r;
  if (lua_toboolean(L, 3))
    op |= LOCK_NB;
  do
    r = flock(fd, op);
  while (r != 0 && errno == EINTR);
  if (r != 0)
    return nslua_fail(L, errno, "flock", NULL);
  return nslua_ok(L);
}

/* ------------------------------------------------------------------ */
/* ptys                                                                 */
/* ------------------------------------------------------------------ */

/*
** proc.openpty([ptmx]) -> master box, slave box, "/dev/pts/N" | nil, msg, errno
** 'ptmx' (default "/dev/ptmx") may be the ptmx of another devpts instance,
** e.g. a sandbox's /newroot/dev/pts/ptmx: the slave is opened from the
** master with TIOCGPTPEER (Linux 4.13), not by a path lookup, so it belongs
** to the same instance.  Both ends O_NOCTTY | O_CLOEXEC.
*/
static int proc_openpty (lua_State *L) {
  const char *ptmx = luaL_optstring(L, 1, "/dev/ptmx");
  int *mbox = nslua_newfd(L), *sbox = nslua_newfd(L);
  const char *what = "open";
  int err = 0, unlock = 0;
  unsigned int n = 0;
  *mbox = open(ptmx, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (*mbox < 0) {
    *mbox = -1;
    return nslua_fail(L, errno, what, ptmx);
  }
  if (ioctl(*mbox, TIOCSPTLCK, &unlock) != 0)
    what = "ioctl 'TIOCSPTLCK'", err = errno;
  else if (ioctl(*mbox, TIOCGPTN, &n) != 0)
    what = "ioctl 'TIOCGPTN'", err = errno;
  else if ((*sbox = ioctl(*mbox, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0)
    what = "ioctl 'TIOCGPTPEER'", err = errno, *sbox = -1;
  if (err != 0) {
    close(*mbox);
    *mbox = -1;
    return nslua_fail(L, err, what, NULL);
  }
  lua_pushfstring(L, "/dev/pts/%d", (int)n);
  return 3;
}

/*
** proc.tcgetattr(fd) -> termios state (an opaque string) | nil, msg, errno
** proc.tcsetattr(fd, state [, "raw"]) -> true | nil, msg, errno
** With "raw", the state is passed through cfmakeraw first: the proxy of
** an interactive pty puts the caller's terminal in raw mode and restores
** the saved state afterwards.
*/
static int proc_tcgetattr (lua_State *L) {
  int fd = nslua_checkfd(L, 1);
  struct termios t;
  if (tcgetattr(fd, &t) != 0)
    return nslua_fail(L, errno, "tcgetattr", NULL);
  lua_pushlstring(L, (const char *)&t, sizeof t);
  return 1;
}

static int proc_tcsetattr (lua_State *L) {
  int fd = nslua_checkfd(L, 1);
  size_t len;
  const char *state = luaL_checklstring(L, 2, &len);
  int raw = lua_toboolean(L, 3);
  struct termios t;
  luaL_argcheck(L, len == sizeof t, 2, "not a termios state from tcgetattr");
  memcpy(&t, state, sizeof t);
  if (raw)
    cfmakeraw(&t);
  if (tcsetattr(fd, TCSADRAIN, &t) != 0)
    return nslua_fail(L, errno, "tcsetattr", NULL);
  return nslua_ok(L);
}

/* proc.sendfd(sock, fd) -> true | nil, msg, errno  (SCM_RIGHTS, one byte) */
static int proc_sendfd (lua_State *L) {
  int sock = nslua_checkfd(L, 1), fd = nslua_checkfd(L, 2);
  char byte = 'F';
  struct iovec iov = { &byte, 1 };
  union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } u;
  struct msghdr msg;
  struct cmsghdr *c;
  memset(&msg, 0, sizeof msg);
  memset(&u, 0, sizeof u);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = u.buf;
  msg.msg_controllen = sizeof u.buf;
  c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  if (TEMP_FAILURE_RETRY(sendmsg(sock, &msg, MSG_NOSIGNAL)) < 0)
    return nslua_fail(L, errno, "sendmsg", NULL);
  return nslua_ok(L);
}

/* proc.recvfd(sock) -> fd box | nil, msg, errno (EPIPE at end of stream) */
static int proc_recvfd (lua_State *L) {
  int sock = nslua_checkfd(L, 1);
  int *box = nslua_newfd(L);
  char byte;
  struct iovec iov = { &byte, 1 };
  union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } u;
  struct msghdr msg;
  struct cmsghdr *c;
  ssize_t n;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = u.buf;
  msg.msg_controllen = sizeof u.buf;
  n = TEMP_FAILURE_RETRY(recvmsg(sock, &msg, MSG_CMSG_CLOEXEC));
  if (n < 0)
    return nslua_fail(L, errno, "recvmsg", NULL);
  c = CMSG_FIRSTHDR(&msg);
  if (n == 0 || c == NULL || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
    return nslua_fail(L, EPIPE, "recvmsg", NULL);
  memcpy(box, CMSG_DATA(c), sizeof(int));
  return 1;
}

/* proc.set_winsize(fd, rows, cols) -> true | nil, msg, errno */
static int proc_set_winsize (lua_State *L) {
  int fd = nslua_checkfd(L, 1);
  lua_Integer rows = luaL_checkinteger(L, 2), cols = luaL_checkinteger(L, 3);
  struct winsize ws;
  luaL_argcheck(L, rows >= 0 && rows <= 0xffff, 2, "rows out of range");
  luaL_argcheck(L, cols >= 0 && cols <= 0xffff, 3, "cols out of range");
  memset(&ws, 0, sizeof ws);
  ws.ws_row = (unsigned short)rows;
  ws.ws_col = (unsigned short)cols;
  if (ioctl(fd, TIOCSWINSZ, &ws) != 0)
    return nslua_fail(L, errno, "ioctl", "TIOCSWINSZ");
  return nslua_ok(L);
}

/* proc.get_winsize(fd) -> rows, cols | nil, msg, errno */
static int proc_get_winsize (lua_State *L) {
  int fd = nslua_checkfd(L, 1);
  struct winsize ws;
  if (ioctl(fd, TIOCGWINSZ, &ws) != 0)
    return nslua_fail(L, errno, "ioctl", "TIOCGWINSZ");
  lua_pushinteger(L, ws.ws_row);
  lua_pushinteger(L, ws.ws_col);
  return 2;
}

/* ------------------------------------------------------------------ */
/* proc.exec: the command's last steps, one C function                  */
/* ------------------------------------------------------------------ */

#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

typedef struct exec_rlimit {
  int res;
  const char *name;
  struct rlimit rl;
} exec_rlimit;

/* Everything exec needs, read from Lua before the first step.  All memory
** is GC-owned and anchored on the stack of the (never returning) call. */
typedef struct exec_plan {
  char *const *argv;
  char *const *envp;
  const char *path;             /* PATH for the search */
  int status_fd;                /* -1: none */
  const int *cgroup_fds;
  size_t ncgroup;
  const int *keep_fds;
  size_t nkeep_fds;
  int *keep;                    /* scratch: status fd + keep_fds */
  int tty, keep_caps, userns_fd, no_new_privs;
  int has_uid, has_gid, has_groups;
  uid_t uid;
  gid_t gid;
  const gid_t *groups;
  size_t ngroups;
  const char *cwd;
  const exec_rlimit *rlimits;
  size_t nrlimits;
  const cap_value_t *caps;
  size_t ncaps;
  int has_seccomp;
  struct sock_fprog prog;
} exec_plan;

/* "exec <step> <errno>[ <detail>]\n" in one write(2), then _exit(1). */
static void exec_fail (const exec_plan *p, const char *step, int err,
                       const char *detail) __attribute__((noreturn));
static void exec_fail (const exec_plan *p, const char *step, int err,
                       const char *detail) {
  char buf[128];
  int n;
  if (p->status_fd >= 0) {
    if (detail != NULL)
      n = snprintf(buf, sizeof buf, "exec %s %d %s\n", step, err, detail);
    else
      n = snprintf(buf, sizeof buf, "exec %s %d\n", step, err);
    if (n > 0 && (size_t)n < sizeof buf && write(p->status_fd, buf, (size_t)n) < 0)
      n = 0;  /* nowhere left to report */
  }
  _exit(1);
}

static int cap_kept (const exec_plan *p, cap_value_t v) {
  size_t i;
  for (i = 0; i < p->ncaps; i++)
    if (p->caps[i] == v)
      return 1;
  return 0;
}

/*
** Leave exactly the kept capabilities in the bounding, permitted, effective,
** inheritable and ambient sets.  After an id switch the kernel has emptied
** the effective set but keepcaps kept the permitted one: raise it again
** first, because PR_CAPBSET_DROP needs CAP_SETPCAP.  Ambient capabilities
** must be in both permitted and inheritable, so they come last.
*/
static int exec_caps (const exec_plan *p, const char **what) {
  cap_value_t v, max = cap_max_bits();
  size_t i;
  int err;
  cap_t c;
  *what = "cap_get_proc";
  if ((c = cap_get_proc()) == NULL)
    return errno;
  *what = "cap_set_proc";
  if (cap_fill(c, CAP_EFFECTIVE, CAP_PERMITTED) != 0 || cap_set_proc(c) != 0)
    goto fail;
  *what = "cap_drop_bound";
  for (v = 0; v < max; v++)
    if (!cap_kept(p, v) && cap_get_bound(v) == 1 && cap_drop_bound(v) != 0)
      goto fail;
  *what = "cap_set_proc";
  if (cap_clear(c) != 0)
    goto fail;
  if (p->ncaps > 0
      && (cap_set_flag(c, CAP_PERMITTED, (int)p->ncaps, p->caps, CAP_SET) != 0
          || cap_set_flag(c, CAP_EFFECTIVE, (int)p->ncaps, p->caps, CAP_SET) != 0
          || cap_set_flag(c, CAP_INHERITABLE, (int)p->ncaps, p->caps, CAP_SET) != 0))
    goto fail;
  if (cap_set_proc(c) != 0)
    goto fail;
  *what = "cap_reset_ambient";
  if (cap_reset_ambient() != 0)
    goto fail;
  *what = "cap_set_ambient";
  for (i = 0; i < p->ncaps; i++)
    if (cap_set_ambient(p->caps[i], CAP_SET) != 0)
      goto fail;
  cap_free(c);
  return 0;
fail:
  err = errno;
  cap_free(c);
  return err;
}

/*
** execve, searching PATH when argv[0] has no '/': like execvpe, an EACCES
** from one directory is remembered while the search goes on (bash does the
** same), but there is no ENOEXEC fallback to /bin/sh: a file the kernel
** cannot execute is an error, never a shell script.  Returns errno.
*/
static int exec_search (const exec_plan *p) {
  const char *file = p->argv[0], *s, *end;
  size_t flen = strlen(file);
  int eacces = 0;
  char buf[PATH_MAX];
  if (strchr(file, '/') != NULL) {
    execve(file, p->argv, p->envp);
    return errno;
  }
  for (s = p->path;; s = end + 1) {
    size_t dlen;
    end = strchrnul(s, ':');
    dlen = (size_t)(end - s);
    if (dlen + 1 + flen + 1 <= sizeof buf) {
      if (dlen == 0) {  /* an empty entry is the working directory */
        memcpy(buf, file, flen + 1);
      } else {
        memcpy(buf, s, dlen);
        buf[dlen] = '/';
        memcpy(buf + dlen + 1, file, flen + 1);
      }
      execve(buf, p->argv, p->envp);
      switch (errno) {
        case EACCES:
          eacces = 1;
          break;
        case ENOENT: case ENOTDIR: case ESTALE: case ENODEV: case ETIMEDOUT:
        case ENAMETOOLONG: case ELOOP:
          break;
        default:
          return errno;
      }
    }
    if (*end == '\0')
      break;
  }
  return eacces ? EACCES : ENOENT;
}

/* The fixed sequence.  No Lua API call from here on. */
static void exec_run (exec_plan *p) __attribute__((noreturn));
static void exec_run (exec_plan *p) {
  const char *what = NULL;
  sigset_t none;
  size_t i, nkeep = 0;
  int err;

  /* (1) join the limit cgroups: "0" means the writer */
  for (i = 0; i < p->ncgroup; i++) {
    if ((err = write_all(p->cgroup_fds[i], "0", 1)) != 0)
      exec_fail(p, "cgroup", err, NULL);
    close(p->cgroup_fds[i]);
  }

  /* (2) a clean signal state: the mask and SIG_IGN survive execve.  The
  ** dispositions first: a spawn child shares the caller's memory and comes
  ** with every signal blocked, so no handler of the caller's may run in it. */
  reset_dispositions();
  sigemptyset(&none);
  if (sigprocmask(SIG_SETMASK, &none, NULL) != 0)
    exec_fail(p, "signals", errno, NULL);

  /* (3) fds: 0-2, the kept ones (made inheritable), and the status fd,
  ** which execve closes, so its end of file tells the parent exec worked */
  if (p->status_fd >= 0) {
    if (fcntl(p->status_fd, F_SETFD, FD_CLOEXEC) != 0)
      exec_fail(p, "fds", errno, NULL);
    p->keep[nkeep++] = p->status_fd;
  }
  for (i = 0; i < p->nkeep_fds; i++) {
    int fl = fcntl(p->keep_fds[i], F_GETFD);
    if (fl < 0 || fcntl(p->keep_fds[i], F_SETFD, fl & ~FD_CLOEXEC) != 0)
      exec_fail(p, "fds", errno, NULL);
    p->keep[nkeep++] = p->keep_fds[i];
  }
  if (close_fds_except(p->keep, (int)nkeep) != 0)
    exec_fail(p, "fds", errno, NULL);

  /* (4) a new session: no controlling terminal unless the pty on fd 0 */
  if (setsid() < 0)
    exec_fail(p, "setsid", errno, NULL);
  if (p->tty && ioctl(0, TIOCSCTTY, 0) != 0)
    exec_fail(p, "tty", errno, NULL);

  /* (5) The nested user namespace of kept capabilities (the executor made
  ** it, with the payload's ids mapped to themselves): they then belong to a
  ** namespace that owns no mount namespace, so masks and read-only mounts
  ** stay.  Joined while we still hold every capability, before the ids. */
  if (p->userns_fd >= 0 && setns(p->userns_fd, CLONE_NEWUSER) != 0)
    exec_fail(p, "userns", errno, "setns");
  /* ids.  keepcaps across setresuid: without it a switch away from uid 0
  ** empties the permitted set and step 6 could no longer shrink the bounding
  ** set.  execve clears keepcaps again. */
  if ((p->keep_caps || p->has_uid) && prctl(PR_SET_KEEPCAPS, 1UL, 0, 0, 0) != 0)
    exec_fail(p, "ids", errno, "keepcaps");
  if (p->has_groups && setgroups(p->ngroups, p->ngroups ? p->groups : NULL) != 0)
    exec_fail(p, "ids", errno, "setgroups");
  if (p->has_gid && setresgid(p->gid, p->gid, p->gid) != 0)
    exec_fail(p, "ids", errno, "setresgid");
  if (p->has_uid && setresuid(p->uid, p->uid, p->uid) != 0)
    exec_fail(p, "ids", errno, "setresuid");

  /* (6) cwd, rlimits, capabilities, no_new_privs */
  if (chdir(p->cwd != NULL ? p->cwd : "/") != 0)
    exec_fail(p, "cwd", errno, NULL);
  for (i = 0; i < p->nrlimits; i++)
    if (setrlimit(p->rlimits[i].res, &p->rlimits[i].rl) != 0)
      exec_fail(p, "rlimit", errno, p->rlimits[i].name);
  if ((err = exec_caps(p, &what)) != 0)
    exec_fail(p, "caps", err, what);
  if (p->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1UL, 0, 0, 0) != 0)
    exec_fail(p, "no_new_privs", errno, NULL);

  /* (7) seccomp last: the filter may forbid what the steps above use */
  if (p->has_seccomp && prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &p->prog, 0, 0) != 0)
    exec_fail(p, "seccomp", errno, NULL);

  /* (8) */
  exec_fail(p, "execve", exec_search(p), NULL);
}

/* opts[name] with no metamethods: the value stays anchored in opts. */
static int rawfield (lua_State *L, int idx, const char *name) {
  lua_pushstring(L, name);
  return lua_rawget(L, idx);
}

/* A string with no NUL byte at the top; raises with 'what' otherwise. */
static const char *top_cstring (lua_State *L, int arg, const char *what) {
  size_t len;
  const char *s;
  if (lua_type(L, -1) != LUA_TSTRING)
    luaL_argerror(L, arg, lua_pushfstring(L, "%s must be a string", what));
  s = lua_tolstring(L, -1, &len);
  if (strlen(s) != len)
    luaL_argerror(L, arg, lua_pushfstring(L, "%s contains a NUL byte", what));
  return s;
}

static int opt_bool (lua_State *L, const char *name, int def) {
  int t = rawfield(L, 3, name), v = def;
  if (t == LUA_TBOOLEAN)
    v = lua_toboolean(L, -1);
  else if (t != LUA_TNIL)
    luaL_argerror(L, 3, lua_pushfstring(L, "field '%s' must be a boolean", name));
  lua_pop(L, 1);
  return v;
}

static int opt_id (lua_State *L, const char *name, unsigned int *id) {
  int t = rawfield(L, 3, name);
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return 0;
  }
  if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 0
      || lua_tointeger(L, -1) >= 0xffffffffLL)
    luaL_argerror(L, 3, lua_pushfstring(L, "field '%s' must be an id (0..2^32-2)", name));
  *id = (unsigned int)lua_tointeger(L, -1);
  lua_pop(L, 1);
  return 1;
}

/* A list of fds in opts[name] into GC-owned memory, left on the stack. */
static const int *opt_fds (lua_State *L, const char *name, size_t *n) {
  size_t i;
  int *fds;
  char what[48];
  int t = rawfield(L, 3, name);
  *n = 0;
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return NULL;
  }
  if (t != LUA_TTABLE)
    luaL_argerror(L, 3, lua_pushfstring(L, "field '%s' must be a list of fds", name));
  *n = (size_t)lua_rawlen(L, -1);
  fds = (int *)lua_newuserdatauv(L, (*n ? *n : 1) * sizeof *fds, 0);
  lua_insert(L, -2);
  for (i = 0; i < *n; i++) {
    snprintf(what, sizeof what, "%s[%d]", name, (int)i + 1);
    lua_rawgeti(L, -1, (lua_Integer)i + 1);
    fds[i] = field_fd(L, 3, what);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);  /* the list; the userdata stays */
  return fds;
}

static void exec_read_argv (lua_State *L, exec_plan *p) {
  size_t i, n = (size_t)lua_rawlen(L, 1);
  char **argv;
  luaL_argcheck(L, n >= 1, 1, "argv must not be empty");
  argv = (char **)lua_newuserdatauv(L, (n + 1) * sizeof *argv, 0);
  for (i = 0; i < n; i++) {
    char what[32];
    snprintf(what, sizeof what, "argv[%d]", (int)i + 1);
    lua_rawgeti(L, 1, (lua_Integer)i + 1);
    argv[i] = (char *)top_cstring(L, 1, what);
    lua_pop(L, 1);  /* argv (argument 1) keeps it alive */
  }
  argv[n] = NULL;
  luaL_argcheck(L, argv[0][0] != '\0', 1, "argv[1] must not be empty");
  p->argv = argv;
}

/* env: a list {"K=V", ...}, a map {K = "V"}, or both.  The "K=V" strings
** are anchored in a new table left on the stack. */
static void exec_read_env (lua_State *L, exec_plan *p) {
  size_t i, n = (size_t)lua_rawlen(L, 2), count = 0;
  int anchor;
  char **envp;
  lua_newtable(L);
  anchor = lua_gettop(L);
  for (i = 1; i <= n; i++) {
    const char *s;
    char what[32];
    snprintf(what, sizeof what, "env[%d]", (int)i);
    lua_rawgeti(L, 2, (lua_Integer)i);
    s = top_cstring(L, 2, what);
    if (s[0] == '=' || strchr(s, '=') == NULL)
      luaL_argerror(L, 2, lua_pushfstring(L, "%s must look like 'NAME=value'", what));
    lua_rawseti(L, anchor, (lua_Integer)++count);
  }
  lua_pushnil(L);
  while (lua_next(L, 2) != 0) {
    const char *k, *v;
    if (lua_type(L, -2) == LUA_TNUMBER && lua_isinteger(L, -2)
        && lua_tointeger(L, -2) >= 1 && (size_t)lua_tointeger(L, -2) <= n) {
      lua_pop(L, 1);
      continue;
    }
    if (lua_type(L, -2) != LUA_TSTRING)
      luaL_argerror(L, 2, "env keys must be names or list indices");
    k = lua_tostring(L, -2);
    if (k[0] == '\0' || strchr(k, '=') != NULL || strlen(k) != lua_rawlen(L, -2))
      luaL_argerror(L, 2, lua_pushfstring(L, "invalid variable name '%s'", k));
    if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)
      luaL_argerror(L, 2, lua_pushfstring(L, "env value of '%s' must be a string", k));
    v = lua_tostring(L, -1);
    if (strlen(v) != lua_rawlen(L, -1))
      luaL_argerror(L, 2, lua_pushfstring(L, "env value of '%s' contains a NUL byte", k));
    lua_pushfstring(L, "%s=%s", k, v);
    lua_rawseti(L, anchor, (lua_Integer)++count);
    lua_pop(L, 1);
  }
  envp = (char **)lua_newuserdatauv(L, (count + 1) * sizeof *envp, 0);
  p->path = DEFAULT_PATH;
  for (i = 0; i < count; i++) {
    lua_rawgeti(L, anchor, (lua_Integer)i + 1);
    envp[i] = (char *)lua_tostring(L, -1);
    lua_pop(L, 1);
    if (strncmp(envp[i], "PATH=", 5) == 0)
      p->path = envp[i] + 5;
  }
  envp[count] = NULL;
  p->envp = envp;
}

static const char *const exec_opt_names[] = {
  "caps", "cgroup_procs", "cwd", "gid", "groups", "keep_caps", "keep_fds",
  "no_new_privs", "rlimits", "seccomp", "status_fd", "tty", "uid", "userns",
  NULL
};

static void check_opt_names (lua_State *L, int arg, const char *const *names) {
  lua_pushnil(L);
  while (lua_next(L, arg) != 0) {
    const char *const *n = names;
    if (lua_type(L, -2) != LUA_TSTRING)
      luaL_argerror(L, arg, "option names must be strings");
    while (*n != NULL && strcmp(*n, lua_tostring(L, -2)) != 0)
      n++;
    if (*n == NULL)
      luaL_argerror(L, arg, lua_pushfstring(L, "unknown option '%s'", lua_tostring(L, -2)));
    lua_pop(L, 1);
  }
}

static void exec_read_rlimits (lua_State *L, exec_plan *p) {
  size_t n = 0;
  exec_rlimit *rl;
  int t = rawfield(L, 3, "rlimits");
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  if (t != LUA_TTABLE)
    luaL_argerror(L, 3, "field 'rlimits' must be a table");
  lua_pushnil(L);
  while (lua_next(L, -2) != 0) {
    n++;
    lua_pop(L, 1);
  }
  rl = (exec_rlimit *)lua_newuserdatauv(L, (n ? n : 1) * sizeof *rl, 0);
  lua_insert(L, -2);
  n = 0;
  lua_pushnil(L);
  while (lua_next(L, -2) != 0) {
    const char *name;
    size_t k;
    if (lua_type(L, -2) != LUA_TSTRING)
      luaL_argerror(L, 3, "rlimit names must be strings");
    name = lua_tostring(L, -2);
    for (k = 0; rlimit_names[k] != NULL && strcmp(rlimit_names[k], name) != 0; k++)
      ;
    if (rlimit_names[k] == NULL)
      luaL_argerror(L, 3, lua_pushfstring(L, "unknown rlimit '%s'", name));
    rl[n].res = rlimit_res[k];
    rl[n].name = rlimit_names[k];
    if (lua_type(L, -1) == LUA_TTABLE) {
      int ok;
      lua_rawgeti(L, -1, 1);
      lua_rawgeti(L, -2, 2);
      ok = to_rlim(L, -2, &rl[n].rl.rlim_cur) && to_rlim(L, -1, &rl[n].rl.rlim_max);
      lua_pop(L, 2);
      if (!ok)
        luaL_argerror(L, 3, lua_pushfstring(L, "rlimit '%s' must be {soft, hard}", name));
    } else if (to_rlim(L, -1, &rl[n].rl.rlim_cur)) {
      rl[n].rl.rlim_max = rl[n].rl.rlim_cur;
    } else
      luaL_argerror(L, 3, lua_pushfstring(L, "rlimit '%s' must be a non-negative "
                                          "integer, math.huge or {soft, hard}", name));
    n++;
    lua_pop(L, 1);
  }
  lua_pop(L, 1);  /* the rlimits table; the userdata stays */
  p->rlimits = rl;
  p->nrlimits = n;
}

static void exec_read_caps (lua_State *L, exec_plan *p) {
  size_t i, n;
  cap_value_t *caps, max = cap_max_bits();
  int t = rawfield(L, 3, "caps");
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  if (t != LUA_TTABLE)
    luaL_argerror(L, 3, "field 'caps' must be a list of capability names");
  n = (size_t)lua_rawlen(L, -1);
  caps = (cap_value_t *)lua_newuserdatauv(L, (n ? n : 1) * sizeof *caps, 0);
  lua_insert(L, -2);
  for (i = 0; i < n; i++) {
    const char *name, *full;
    lua_rawgeti(L, -1, (lua_Integer)i + 1);
    name = top_cstring(L, 3, "a capability name");
    full = strncasecmp(name, "cap_", 4) == 0 ? name : lua_pushfstring(L, "cap_%s", name);
    if (cap_from_name(full, &caps[i]) != 0)
      luaL_argerror(L, 3, lua_pushfstring(L, "unknown capability '%s'", name));
    if (caps[i] >= max)
      luaL_argerror(L, 3, lua_pushfstring(L, "capability '%s' is not supported by "
                                          "this kernel", name));
    lua_settop(L, -2 - (full != name));
  }
  lua_pop(L, 1);
  p->caps = caps;
  p->ncaps = n;
}

static void exec_read_opts (lua_State *L, exec_plan *p) {
  unsigned int id;
  int t;
  check_opt_names(L, 3, exec_opt_names);
  p->status_fd = -1;
  if (rawfield(L, 3, "status_fd") != LUA_TNIL) {
    p->status_fd = field_fd(L, 3, "field 'status_fd'");
    if (p->status_fd < 3)
      luaL_argerror(L, 3, "field 'status_fd' must be >= 3");
  }
  lua_pop(L, 1);
  p->cgroup_fds = opt_fds(L, "cgroup_procs", &p->ncgroup);
  p->keep_fds = opt_fds(L, "keep_fds", &p->nkeep_fds);
  p->keep = (int *)lua_newuserdatauv(L, (p->nkeep_fds + 1) * sizeof *p->keep, 0);
  p->tty = opt_bool(L, "tty", 0);
  p->keep_caps = opt_bool(L, "keep_caps", 0);
  p->userns_fd = -1;
  if (rawfield(L, 3, "userns") != LUA_TNIL)
    p->userns_fd = field_fd(L, 3, "field 'userns'");
  lua_pop(L, 1);
  p->no_new_privs = opt_bool(L, "no_new_privs", 1);
  if ((p->has_uid = opt_id(L, "uid", &id)))
    p->uid = id;
  if ((p->has_gid = opt_id(L, "gid", &id)))
    p->gid = id;
  t = rawfield(L, 3, "groups");
  if (t == LUA_TTABLE) {
    p->has_groups = 1;
    p->groups = check_gids(L, -1, 3, &p->ngroups, "field 'groups'");
    lua_insert(L, -2);
  } else if (t != LUA_TNIL)
    luaL_argerror(L, 3, "field 'groups' must be a list of gids");
  lua_pop(L, 1);
  if (rawfield(L, 3, "cwd") != LUA_TNIL)
    p->cwd = top_cstring(L, 3, "field 'cwd'");
  lua_pop(L, 1);  /* opts keeps it alive */
  exec_read_rlimits(L, p);
  exec_read_caps(L, p);
  t = rawfield(L, 3, "seccomp");
  if (t != LUA_TNIL) {
    size_t len;
    const char *prog;
    if (t != LUA_TSTRING)
      luaL_argerror(L, 3, "field 'seccomp' must be a string (a BPF program)");
    prog = lua_tolstring(L, -1, &len);
    if (len == 0 || len % sizeof(struct sock_filter) != 0)
      luaL_argerror(L, 3, "seccomp program length must be a positive multiple of 8");
    if (len / sizeof(struct sock_filter) > BPF_MAXINSNS)
      luaL_argerror(L, 3, "seccomp program is longer than 4096 instructions");
    p->has_seccomp = 1;
    p->prog.len = (unsigned short)(len / sizeof(struct sock_filter));
    p->prog.filter = (struct sock_filter *)(void *)prog;
  }
  lua_pop(L, 1);
}

/* argv, env [, opts] at 1..3 (opts defaults to {}), read into a plan. */
static exec_plan *exec_args (lua_State *L, const char *what) {
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checktype(L, 2, LUA_TTABLE);
  if (lua_isnoneornil(L, 3)) {
    if (lua_gettop(L) < 3)
      lua_settop(L, 3);
    lua_newtable(L);
    lua_replace(L, 3);
  } else
    luaL_checktype(L, 3, LUA_TTABLE);
  /* arguments above 3 stay on the stack: what they hold stays alive */
  luaL_checkstack(L, 32, what);
  return nslua_exec_plan(L);
}

/* The executor's nested user namespace, made in the child after the plan was read. */
void nslua_exec_set_userns (exec_plan *p, int fd) {
  p->userns_fd = fd;
}

exec_plan *nslua_exec_plan (lua_State *L) {
  exec_plan *p = (exec_plan *)lua_newuserdatauv(L, sizeof *p, 0);
  memset(p, 0, sizeof *p);
  exec_read_argv(L, p);
  exec_read_env(L, p);
  exec_read_opts(L, p);
  return p;
}

/*
** proc.exec(argv, env, opts) -> never returns
** The command's last steps, in order; a failure writes
** "exec <step> <errno>[ <detail>]\n" to opts.status_fd in one write(2) and
** _exit(1)s (without a status_fd it only _exit(1)s).  Every argument is
** read and checked first, so misuse raises before the first step and
** nothing after it can raise.
**   argv   {prog, ...}; no '/' in prog: PATH from env (default
**          /usr/local/bin:/usr/bin:/bin), EACCES remembered, no ENOEXEC shell
**   env    {"K=V", ...} and/or {K = "V"}: exactly the environment
**   opts   status_fd (>= 3, close-on-exec), cgroup_procs {fd...}, keep_fds
**          {fd...} (kept, made inheritable), tty, uid, gid, groups {gid...},
**          keep_caps, userns (a user namespace fd to join before the ids),
**          cwd ("/"), rlimits {name = n |
**          {soft, hard}}, caps {"net_raw", ...}, no_new_privs (true),
**          seccomp (raw struct sock_filter array)
** Steps and details: cgroup, signals, fds, setsid, tty,
** ids (keepcaps|setgroups|setresgid|setresuid),
** userns (setns), cwd, rlimit (<name>),
** caps (cap_get_proc|cap_set_proc|cap_drop_bound|cap_reset_ambient|
** cap_set_ambient), no_new_privs, seccomp, execve.
*/
static int proc_exec (lua_State *L) {
  exec_run(exec_args(L, "exec"));
  return 0;
}

/* The child of nslua_spawn: stdio in place, then the exec tail. */
typedef struct spawn_arg {
  exec_plan *p;
  const int *stdio;             /* stdio[t] < 0: keep what is there */
} spawn_arg;

static int spawn_child (void *arg) {
  spawn_arg *a = (spawn_arg *)arg;
  int t;
  for (t = 0; t < 3; t++)
    if (a->stdio[t] >= 0 && a->stdio[t] != t && dup2(a->stdio[t], t) < 0)
      exec_fail(a->p, "stdio", errno, NULL);
  exec_run(a->p);
}

#define SPAWN_STACK (256 * 1024)

/* CLONE_VM|CLONE_VFORK, as posix_spawn: returns once the child has called
** execve or failed.  The child writes only its own stack, the plan's
** scratch and, through libcap, the (suspended) caller's heap. */
int nslua_spawn (exec_plan *p, const int stdio[3]) {
  spawn_arg a;
  sigset_t all, old;
  char *stack;
  int pid, err;
  a.p = p;
  a.stdio = stdio;
#if defined(NSLUA_ASAN)
  /* `make sanitize`: fork semantics (see nslua.h) */
  (void)stack;
  (void)err;
  (void)all;
  (void)old;
  pid = fork();
  if (pid == 0)
    spawn_child(&a);
  return pid;
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
  pid = nslua_spawn(exec_args(L, "spawn"), stdio);
  if (pid < 0)
    return nslua_fail(L, errno, "clone", NULL);
  lua_pushinteger(L, pid);
  return 1;
}

/* ------------------------------------------------------------------ */
/* proc.init: the container's PID 1, one C function                     */
/* ------------------------------------------------------------------ */

/* "init <step> <errno>\n", stop the command we cannot supervise, _exit(1). */
static void init_fail (int status_fd, pid_t cmd, const char *step,
                       int err) __attribute__((noreturn));
static void init_fail (int status_fd, pid_t cmd, const char *step, int err) {
  char buf[64];
  int n = snprintf(buf, sizeof buf, "init %s %d\n", step, err);
  if (n > 0 && (size_t)n < sizeof buf && write(status_fd, buf, (size_t)n) < 0)
    n = 0;
  if (cmd > 0)
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

void nslua_init_run (int cmd, int status_fd, int *keep, size_t nkeep) {
  struct signalfd_siginfo si[16];
  struct rusage ru, cru;
  sigset_t all;
  char line[192];
  int sfd, pid1 = syscall(SYS_getpid) == 1;
  int done = 0, status = 0, xfsz = 0, n;

  /* Every signal blocked and read from a signalfd: a blocked signal is
  ** queued even for a pid namespace's init, which the kernel otherwise
  ** shields from every signal it has no handler for.  SIG_IGN would drop
  ** signals before the signalfd sees them, and an ignored SIGCHLD would
  ** reap the command behind our back: back to SIG_DFL. */
  sigfillset(&all);
  if (sigprocmask(SIG_SETMASK, &all, NULL) != 0)
    init_fail(status_fd, cmd, "signals", errno);
  reset_dispositions();
  /* Outside a pid namespace, orphans of the command must still come to us. */
  if (!pid1 && prctl(PR_SET_CHILD_SUBREAPER, 1UL, 0, 0, 0) != 0)
    init_fail(status_fd, cmd, "subreaper", errno);
  sfd = signalfd(-1, &all, SFD_CLOEXEC);
  if (sfd < 0)
    init_fail(status_fd, cmd, "signalfd", errno);
  keep[0] = status_fd;
  keep[1] = sfd;
  if (close_fds_except(keep, (int)nkeep) != 0)
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
    r = read(sfd, si, sizeof si);
    if (r < 0) {
      if (errno == EINTR || errno == EAGAIN)
        continue;
      init_fail(status_fd, cmd, "read", errno);
    }
    for (n = 0; n < (int)(r / (ssize_t)sizeof si[0]); n++) {
      int sig = (int)si[n].ssi_signo;
      if (sig != SIGCHLD)
        (void)kill(cmd, sig);
    }
  }

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
  n = snprintf(line, sizeof line, "exit %s %d %ld.%06ld %ld.%06ld %ld %ld.%06ld %ld.%06ld %d\n",
               WIFSIGNALED(status) ? "signaled" : "exited",
               WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
               (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec,
               (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec,
               (long)ru.ru_maxrss,
               (long)cru.ru_utime.tv_sec, (long)cru.ru_utime.tv_usec,
               (long)cru.ru_stime.tv_sec, (long)cru.ru_stime.tv_usec, xfsz);
  if (n > 0 && (size_t)n < sizeof line && write(status_fd, line, (size_t)n) < 0)
    n = 0;  /* the parent is gone: nobody to tell */
  _exit(0);
}

static const char *const init_opt_names[] = {"keep_fds", NULL};

/*
** proc.init(cmd_pid, status_fd [, {keep_fds = {fd, ...}}]) -> never returns
** The container's PID 1 (a child subreaper when it is not PID 1): keeps
** only fds 0-2, status_fd, its signalfd and keep_fds; forwards every signal
** but SIGCHLD to cmd_pid; reaps every child; when cmd_pid ends writes
** "exit <exited|signaled> <code> <utime> <stime> <maxrss_kb> <cutime> <cstime> <xfsz>\n"
** to status_fd and _exit(0)s.  A set-up failure writes "init <step> <errno>\n".
*/
static int proc_init (lua_State *L) {
  pid_t cmd = check_pid(L, 1);
  int status_fd = nslua_checkfd(L, 2);
  size_t i, n = 0;
  int *keep;
  luaL_argcheck(L, cmd > 0, 1, "pid must be > 0");
  if (!lua_isnoneornil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    check_opt_names(L, 3, init_opt_names);
  } else {
    lua_settop(L, 2);
    lua_newtable(L);
  }
  lua_settop(L, 3);
  {
    const int *fds = opt_fds(L, "keep_fds", &n);
    keep = (int *)lua_newuserdatauv(L, (n + 2) * sizeof *keep, 0);
    for (i = 0; i < n; i++)
      keep[i + 2] = fds[i];
  }
  nslua_init_run(cmd, status_fd, keep, n + 2);
  return 0;
}


/* proc.now() -> seconds (float) of CLOCK_MONOTONIC: for wall-time limits. */
static int proc_now (lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
  return 1;
}

static const luaL_Reg proc_funcs[] = {
  {"_exit", proc__exit},
  {"close", proc_close},
  {"close_range", proc_close_range},
  {"dup2", proc_dup2},
  {"exec", proc_exec},
  {"execv", proc_execv},
  {"flock", proc_flock},
  {"get_winsize", proc_get_winsize},
  {"getegid", proc_getegid},
  {"geteuid", proc_geteuid},
  {"getgid", proc_getgid},
  {"getpid", proc_getpid},
  {"getppid", proc_getppid},
  {"getrlimit", proc_getrlimit},
  {"getuid", proc_getuid},
  {"init", proc_init},
  {"kill", proc_kill},
  {"now", proc_now},
  {"open", proc_open},
  {"openpty", proc_openpty},
  {"pidfd_open", proc_pidfd_open},
  {"pidfd_send_signal", proc_pidfd_send_signal},
  {"pipe", proc_pipe},
  {"poll", proc_poll},
  {"prctl", proc_prctl},
  {"read", proc_read},
  {"recvfd", proc_recvfd},
  {"reset_signals", proc_reset_signals},
  {"sendfd", proc_sendfd},
  {"set_winsize", proc_set_winsize},
  {"setgroups", proc_setgroups},
  {"setresgid", proc_setresgid},
  {"setresuid", proc_setresuid},
  {"setrlimit", proc_setrlimit},
  {"setsid", proc_setsid},
  {"signalfd", proc_signalfd},
  {"signame", proc_signame},
  {"signum", proc_signum},
  {"sigprocmask", proc_sigprocmask},
  {"sigread", proc_sigread},
  {"socketpair", proc_socketpair},
  {"spawn", proc_spawn},
  {"tcgetattr", proc_tcgetattr},
  {"tcsetattr", proc_tcsetattr},
  {"waitpid", proc_waitpid},
  {"write", proc_write},
  {NULL, NULL}
};

int nslua_open_proc (lua_State *L) {
  luaL_newlib(L, proc_funcs);
  return 1;
}
