/* proc.c - core.proc: wait, signals, pidfds, poll, rlimits, prctl, ids, the table. */
/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nslua.h"

/*
** core.proc is too big for one file (STYLE 1): spawn.c, exec.c, init.c and
** fds.c each add their functions through a nslua_proc_<part>_funcs table
** that nslua_open_proc registers after this file's own.
*/

/* ------------------------------------------------------------------ */
/* helpers without a lua_State: safe in the fixed sequences            */
/* ------------------------------------------------------------------ */

/* Every disposition back to SIG_DFL.  KILL and STOP cannot be changed and
** glibc refuses its two internal signals (32, 33): EINVAL is expected. */
void nslua_reset_dispositions (void) {
  struct sigaction sa;
  int sig;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  sigemptyset(&sa.sa_mask);
  for (sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP)
      (void)sigaction(sig, &sa, NULL);
}

/* KEYCTL_JOIN_SESSION_KEYRING with no name: a new anonymous session
** keyring, owned by our ids, replaces the one inherited from the caller.
** The keyring is not namespaced: without this a payload (rootless: with
** the caller's uid) possesses the caller's session keyring and reads every
** key in it.  Returns 0 or errno; ENOSYS (no CONFIG_KEYS) and EPERM (a
** seccomp filter we run under refuses keyctl, and every process below us
** inherits that filter) leave no keyring within the payload's reach, so
** they are 0 too. */
int nslua_new_session_keyring (void) {
  if (syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, NULL, 0, 0, 0) >= 0 ||
      errno == ENOSYS || errno == EPERM)
    return 0;
  return errno;
}

/* The argv area, [arg_start, arg_end) of /proc/self/stat (fields 48 and
** 49, Linux 3.5+): what /proc/PID/cmdline shows.  Read once and kept, so a
** parent reads it before it clones and the child only writes. */
static char *argv_area;
static size_t argv_len;
static int argv_read;

int nslua_argv_area (void) {
  char buf[2048], *s;
  unsigned long long start = 0, end = 0;
  ssize_t n;
  int fd, field;
  if (argv_read)
    return argv_area != NULL ? 0 : ENOENT;
  if ((fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC)) < 0)
    return errno;
  do
    n = read(fd, buf, sizeof buf - 1);
  while (n < 0 && errno == EINTR);
  close(fd);
  if (n <= 0)
    return n < 0 ? errno : EIO;
  buf[n] = '\0';
  argv_read = 1;
  /* the comm, field 2, may hold spaces and parentheses: fields start after the last ')' */
  if ((s = strrchr(buf, ')')) == NULL)
    return EINVAL;
  for (s++, field = 3; *s != '\0'; field++) {
    while (*s == ' ')
      s++;
    if (field == 48)
      start = strtoull(s, NULL, 10);
    else if (field == 49) {
      end = strtoull(s, NULL, 10);
      break;
    }
    while (*s != ' ' && *s != '\0')
      s++;
  }
  if (start == 0 || end <= start)
    return ENOENT;
  argv_area = (char *)(uintptr_t)start;
  argv_len = (size_t)(end - start);
  return 0;
}

/* comm and /proc/self/cmdline become 'title' (cut to the argv area and to
** 15 bytes for comm).  The area is overwritten (a copy-on-write page of
** our own after clone): title, NUL, zeros, and a last byte that is not
** NUL, which tells the kernel the title was rewritten (setproctitle's
** convention), so cmdline reads exactly "title\0" and nothing of the
** caller's command line or environment.  No lua_State. */
void nslua_set_title (const char *title) {
  size_t n = strlen(title);
  char comm[16];
  snprintf(comm, sizeof comm, "%s", title);
  (void)prctl(PR_SET_NAME, (unsigned long)comm, 0, 0, 0);
  if (nslua_argv_area() != 0 || argv_len < 2)
    return;
  if (n > argv_len - 1)
    n = argv_len - 1;
  memcpy(argv_area, title, n);
  memset(argv_area + n, 0, argv_len - n);
  if (argv_len > n + 1)
    argv_area[argv_len - 1] = ' ';
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
    pfds[i].fd = nslua_field_fd(L, 1, what);
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
  nslua_reset_dispositions();
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

const char *const nslua_rlimit_names[] = {
  "as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice",
  "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack", NULL
};
const int nslua_rlimit_res[] = {
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
int nslua_to_rlim (lua_State *L, int idx, rlim_t *v) {
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
  int which = luaL_checkoption(L, 1, NULL, nslua_rlimit_names);
  struct rlimit rl;
  if (getrlimit(nslua_rlimit_res[which], &rl) != 0)
    return nslua_fail(L, errno, "getrlimit", nslua_rlimit_names[which]);
  push_rlim(L, rl.rlim_cur);
  push_rlim(L, rl.rlim_max);
  return 2;
}

/* proc.setrlimit(name, soft [, hard]) -> true | nil, msg, errno
** Values are integers or math.huge; hard defaults to the current hard limit. */
static int proc_setrlimit (lua_State *L) {
  int which = luaL_checkoption(L, 1, NULL, nslua_rlimit_names);
  struct rlimit rl;
  luaL_argcheck(L, nslua_to_rlim(L, 2, &rl.rlim_cur), 2,
                "limit must be a non-negative integer or math.huge");
  if (lua_isnoneornil(L, 3)) {
    struct rlimit cur;
    if (getrlimit(nslua_rlimit_res[which], &cur) != 0)
      return nslua_fail(L, errno, "getrlimit", nslua_rlimit_names[which]);
    rl.rlim_max = cur.rlim_max;
  } else
    luaL_argcheck(L, nslua_to_rlim(L, 3, &rl.rlim_max), 3,
                  "limit must be a non-negative integer or math.huge");
  if (setrlimit(nslua_rlimit_res[which], &rl) != 0)
    return nslua_fail(L, errno, "setrlimit", nslua_rlimit_names[which]);
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

/*
** proc.set_title(title) -> true | nil, msg, errno
** comm (PR_SET_NAME, the first 15 bytes) and /proc/self/cmdline become
** title: the argv area is overwritten (as the executor's child does with
** "nslua-init"), so it shows nothing of the command line; a longer title
** is cut to the area's size.  Fails when /proc/self/stat has no argv area.
*/
static int proc_set_title (lua_State *L) {
  size_t len;
  const char *title = luaL_checklstring(L, 1, &len);
  int err;
  luaL_argcheck(L, len >= 1 && strlen(title) == len, 1, "title must be 1 byte or more without NUL");
  if ((err = nslua_argv_area()) != 0)
    return nslua_fail(L, err, "read", "/proc/self/stat");
  nslua_set_title(title);
  return nslua_ok(L);
}

/*
** proc.new_session_keyring() -> true | nil, msg, errno
** Leave the session keyring inherited from the caller for a new anonymous
** one (what the executor's child does; a kernel without keys, or a seccomp
** filter that refuses keyctl, counts as done: nothing below us can reach a
** keyring then).
*/
static int proc_new_session_keyring (lua_State *L) {
  int err = nslua_new_session_keyring();
  if (err != 0)
    return nslua_fail(L, err, "keyctl", "join_session_keyring");
  return nslua_ok(L);
}

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

/* An fs id at 'arg': 0..2^32-2 (-1 would only ask for the current one). */
static unsigned int check_fsid (lua_State *L, int arg) {
  lua_Integer id = luaL_checkinteger(L, arg);
  luaL_argcheck(L, id >= 0 && id < 0xffffffffLL, arg, "id out of range (0..4294967294)");
  return (unsigned int)id;
}

/*
** proc.setfsuid(id) -> previous fsuid | nil, msg, EPERM
** setfsuid(2) reports no error: the switch is checked by asking again
** (setfsuid(-1) changes nothing and returns the current one).
*/
static int proc_setfsuid (lua_State *L) {
  uid_t id = (uid_t)check_fsid(L, 1);
  int prev = setfsuid(id);
  if ((uid_t)setfsuid((uid_t)-1) != id)
    return nslua_fail(L, EPERM, "setfsuid", NULL);
  lua_pushinteger(L, (lua_Integer)(unsigned int)prev);
  return 1;
}

/* proc.setfsgid(id) -> previous fsgid | nil, msg, EPERM   (as setfsuid) */
static int proc_setfsgid (lua_State *L) {
  gid_t id = (gid_t)check_fsid(L, 1);
  int prev = setfsgid(id);
  if ((gid_t)setfsgid((gid_t)-1) != id)
    return nslua_fail(L, EPERM, "setfsgid", NULL);
  lua_pushinteger(L, (lua_Integer)(unsigned int)prev);
  return 1;
}

/* A list of gids at 'arg' into GC-owned memory; *n gets the count. */
gid_t *nslua_check_gids (lua_State *L, int idx, int arg, size_t *n, const char *what) {
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
  gids = nslua_check_gids(L, 1, 1, &n, "groups");
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

/* proc.now() -> seconds (float) of CLOCK_MONOTONIC: for wall-time limits. */
static int proc_now (lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
  return 1;
}

static const luaL_Reg proc_funcs[] = {
  {"_exit", proc__exit},
  {"execv", proc_execv},
  {"getegid", proc_getegid},
  {"geteuid", proc_geteuid},
  {"getgid", proc_getgid},
  {"getpid", proc_getpid},
  {"getppid", proc_getppid},
  {"getrlimit", proc_getrlimit},
  {"getuid", proc_getuid},
  {"kill", proc_kill},
  {"new_session_keyring", proc_new_session_keyring},
  {"now", proc_now},
  {"pidfd_open", proc_pidfd_open},
  {"pidfd_send_signal", proc_pidfd_send_signal},
  {"poll", proc_poll},
  {"prctl", proc_prctl},
  {"reset_signals", proc_reset_signals},
  {"setfsgid", proc_setfsgid},
  {"setfsuid", proc_setfsuid},
  {"setgroups", proc_setgroups},
  {"setresgid", proc_setresgid},
  {"setresuid", proc_setresuid},
  {"setrlimit", proc_setrlimit},
  {"set_title", proc_set_title},
  {"setsid", proc_setsid},
  {"signalfd", proc_signalfd},
  {"signame", proc_signame},
  {"signum", proc_signum},
  {"sigprocmask", proc_sigprocmask},
  {"sigread", proc_sigread},
  {"waitpid", proc_waitpid},
  {NULL, NULL}
};

static const luaL_Reg *const proc_parts[] = {
  nslua_proc_exec_funcs, nslua_proc_fds_funcs, nslua_proc_init_funcs,
  nslua_proc_spawn_funcs
};

int nslua_open_proc (lua_State *L) {
  size_t i;
  luaL_newlib(L, proc_funcs);
  for (i = 0; i < sizeof proc_parts / sizeof proc_parts[0]; i++)
    luaL_setfuncs(L, proc_parts[i], 0);
  return 1;
}
