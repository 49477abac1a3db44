/* fds.c - core.proc's fds: pipes, read/write, dup2, close_range, open, flock, ptys. */
/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/un.h>
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
int nslua_close_fds_except (int *keep, int n) {
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

/* An fd box or integer stored in a table field (the value at the top). */
int nslua_field_fd (lua_State *L, int arg, const char *what) {
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
/* fds                                                                  */
/* ------------------------------------------------------------------ */

static const nslua_flag pipe_flags[] = {
  {"nonblock", O_NONBLOCK},
  {NULL, 0}
};

/* proc.epoll() -> box | nil, msg, errno: an epoll instance (close-on-exec),
** a single descriptor an event loop can watch for many. */
static int proc_epoll (lua_State *L) {
  int *box = nslua_newfd(L);
  if ((*box = epoll_create1(EPOLL_CLOEXEC)) < 0)
    return nslua_fail(L, errno, "epoll_create1", NULL);
  return 1;
}

/* proc.epoll_ctl(ep, "add" | "del", fd) -> true | nil, msg, errno
** "add" watches fd for input (level-triggered). */
static int proc_epoll_ctl (lua_State *L) {
  static const char *const ops[] = {"add", "del", NULL};
  int ep = nslua_checkfd(L, 1);
  int op = luaL_checkoption(L, 2, NULL, ops) == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_DEL;
  int fd = nslua_checkfd(L, 3);
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  if (epoll_ctl(ep, op, fd, &ev) != 0)
    return nslua_fail(L, errno, "epoll_ctl", NULL);
  return nslua_ok(L);
}

/* proc.timerfd() -> box | nil, msg, errno: a monotonic timer fd
** (close-on-exec, non-blocking), disarmed. */
static int proc_timerfd (lua_State *L) {
  int *box = nslua_newfd(L);
  if ((*box = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK)) < 0)
    return nslua_fail(L, errno, "timerfd_create", NULL);
  return 1;
}

/* proc.timerfd_set(tfd, seconds) -> true | nil, msg, errno: fires once,
** 'seconds' from now (a number; 0 or less disarms).  The expiry is read
** (proc.read(tfd, 8)) to make the fd unready again. */
static int proc_timerfd_set (lua_State *L) {
  int fd = nslua_checkfd(L, 1);
  lua_Number s = luaL_checknumber(L, 2);
  struct itimerspec its;
  memset(&its, 0, sizeof its);
  if (s > 0) {
    if (s > 1e9)
      s = 1e9;
    its.it_value.tv_sec = (time_t)s;
    its.it_value.tv_nsec = (long)((s - (lua_Number)its.it_value.tv_sec) * 1e9);
    if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
      its.it_value.tv_nsec = 1;
  }
  if (timerfd_settime(fd, 0, &its, NULL) != 0)
    return nslua_fail(L, errno, "timerfd_settime", NULL);
  return nslua_ok(L);
}

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

/* write(2) that never raises SIGPIPE: a pipe or socket without a reader
** is EPIPE and nothing else, so a child that died before nslua released
** it is a report, never the caller's death (DESIGN "The spawn sequence").
** SIGPIPE is blocked around the call, and the one the write raised is
** taken back, unless one was already pending (a blocked one of the
** caller's own).  No lua_State. */
static ssize_t write_nosigpipe (int fd, const void *buf, size_t len) {
  static const struct timespec now = {0, 0};
  sigset_t pipe_set, old, pending;
  ssize_t n;
  int err, was_pending;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
  sigprocmask(SIG_BLOCK, &pipe_set, &old);
  n = write(fd, buf, len);
  err = errno;
  if (n < 0 && err == EPIPE && !was_pending)
    while (sigtimedwait(&pipe_set, NULL, &now) < 0 && errno == EINTR)
      ;
  sigprocmask(SIG_SETMASK, &old, NULL);
  errno = err;
  return n;
}

/* proc.write(fd, s) -> bytes written | nil, msg, errno
** Loops over short writes and EINTR.  A failure after some bytes went out
** returns that count (less than #s); a failure before returns the triple.
** A pipe or socket without a reader is EPIPE, never SIGPIPE. */
static int proc_write (lua_State *L) {
  int fd = nslua_checkfd(L, 1);
  size_t len, done = 0;
  const char *s = luaL_checklstring(L, 2, &len);
  while (done < len) {
    ssize_t n = write_nosigpipe(fd, s + done, len - done);
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
  {"tmpfile", O_TMPFILE},       /* path: a directory; an unnamed file in it */
  {"trunc", O_TRUNC},
  {"wronly", O_WRONLY},
  {NULL, 0}
};

/* proc.open(path, {rdonly|wronly|rdwr, creat, ...} [, mode]) -> fd box | nil, msg, errno
** Always O_CLOEXEC; mode defaults to 0666 (less the umask).  tmpfile (with
** wronly or rdwr): path is a directory, the file has no name. */
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

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif

/* Copy src from its offset to its end into dst; 0 or errno, *what the call. */
static int copy_to_end (int src, int dst, const char **what) {
  char buf[16384];
  ssize_t n;
  *what = "sendfile";
  for (;;) {
    n = sendfile(dst, src, NULL, 1 << 30);
    if (n == 0)
      return 0;
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      break;
  }
  if (errno != EINVAL && errno != ENOSYS)
    return errno;
  /* a file sendfile cannot read from: read and write */
  for (;;) {
    ssize_t done = 0;
    *what = "read";
    n = read(src, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return n < 0 ? errno : 0;
    *what = "write";
    while (done < n) {
      ssize_t w = write(dst, buf + done, (size_t)(n - done));
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0)
        return errno;
      done += w;
    }
  }
}

/*
** proc.sealed_copy(fd [, name]) -> fd box | nil, msg, errno
** What fd holds from its offset to its end, copied into a memfd (named
** name, default "nslua-copy") that is sealed against every change
** (F_SEAL_WRITE, F_SEAL_GROW, F_SEAL_SHRINK, F_SEAL_SEAL; not executable
** where the kernel has MFD_NOEXEC_SEAL), returned read-only at offset 0.
** Reopening it through /proc/self/fd for writing gets nothing: the seals
** belong to the file, not to the fd.  Only a regular file or a block
** device has an end to copy to: anything else fails with ESPIPE.  The copy
** lives in memory (shmem), charged to the caller's memory cgroup.
*/
static int proc_sealed_copy (lua_State *L) {
  int src = nslua_checkfd(L, 1);
  const char *name = luaL_optstring(L, 2, "nslua-copy"), *what = "fstat";
  int *box = nslua_newfd(L);
  struct stat st;
  char path[64];
  int mfd, ro, err = 0;
  if (fstat(src, &st) != 0)
    return nslua_fail(L, errno, what, NULL);
  if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
    return nslua_fail(L, ESPIPE, "sealed_copy", "not a regular file or block device");
  mfd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL);
  if (mfd < 0 && errno == EINVAL)     /* before Linux 6.3 */
    mfd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (mfd < 0)
    return nslua_fail(L, errno, "memfd_create", name);
  *box = mfd;
  if ((err = copy_to_end(src, mfd, &what)) == 0 &&
      fcntl(mfd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) != 0) {
    err = errno;
    what = "fcntl";
  }
  if (err != 0) {
    close(mfd);
    *box = -1;
    return nslua_fail(L, err, what, name);
  }
  /* read-only: writes fail with EBADF, as on any read-only stdin; without
  ** /proc the sealed read-write fd is kept (its writes fail with EPERM) */
  snprintf(path, sizeof path, "/proc/self/fd/%d", mfd);
  if ((ro = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
    close(mfd);
    *box = ro;
  } else
    (void)lseek(mfd, 0, SEEK_SET);
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
  const char *ptmx = luaL_optstring(L, 1, "/dev/ptmx"), *what = NULL;
  int *mbox = nslua_newfd(L), *sbox = nslua_newfd(L);
  unsigned int n = 0;
  int err = nslua_openpty(ptmx, mbox, sbox, &n, &what);
  if (err != 0) {
    *mbox = *sbox = -1;
    return nslua_fail(L, err, what, strcmp(what, "open") == 0 ? ptmx : NULL);
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

/* proc.connect_unix(path) -> fd box | nil, msg, errno
** A stream socket connected to the unix socket at path (an OCI engine's
** console socket, a seccomp agent).  ENAMETOOLONG for a path sun_path
** cannot hold.  The connect does not wait: a listener whose backlog is
** full (a wedged engine or agent) is EAGAIN, as Go's dialer (runc's) has
** it; the socket is blocking again once connected. */
static int proc_connect_unix (lua_State *L) {
  size_t len;
  const char *path = luaL_checklstring(L, 1, &len);
  struct sockaddr_un sa;
  int *box, fl;
  if (len == 0 || len >= sizeof sa.sun_path)
    return nslua_fail(L, len == 0 ? ENOENT : ENAMETOOLONG, "connect", path);
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  memcpy(sa.sun_path, path, len);
  box = nslua_newfd(L);
  *box = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (*box < 0) {
    int err = errno;
    *box = -1;
    return nslua_fail(L, err, "socket", NULL);
  }
  if (connect(*box, (struct sockaddr *)&sa, sizeof sa) != 0
      || (fl = fcntl(*box, F_GETFL)) < 0 || fcntl(*box, F_SETFL, fl & ~O_NONBLOCK) != 0) {
    int err = errno;
    close(*box);
    *box = -1;
    return nslua_fail(L, err, "connect", path);
  }
  return 1;
}

/* proc.sendfd(sock, fd) -> true | nil, msg, errno  (SCM_RIGHTS, one byte) */
static int proc_sendfd (lua_State *L) {
  int sock = nslua_checkfd(L, 1), fd = nslua_checkfd(L, 2);
  int err = nslua_sendfd(sock, fd);
  if (err != 0)
    return nslua_fail(L, err, "sendmsg", NULL);
  return nslua_ok(L);
}

/* proc.recvfd(sock) -> fd box | nil, msg, errno (EPIPE at end of stream) */
static int proc_recvfd (lua_State *L) {
  int sock = nslua_checkfd(L, 1);
  int *box = nslua_newfd(L);
  int fd = nslua_recvfd(sock);
  if (fd < 0)
    return nslua_fail(L, errno, "recvmsg", NULL);
  *box = fd;
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


/* Registered into core.proc by proc.c. */
const luaL_Reg nslua_proc_fds_funcs[] = {
  {"close", proc_close},
  {"close_range", proc_close_range},
  {"dup2", proc_dup2},
  {"flock", proc_flock},
  {"get_winsize", proc_get_winsize},
  {"open", proc_open},
  {"openpty", proc_openpty},
  {"pipe", proc_pipe},
  {"read", proc_read},
  {"connect_unix", proc_connect_unix},
  {"epoll", proc_epoll},
  {"epoll_ctl", proc_epoll_ctl},
  {"recvfd", proc_recvfd},
  {"sealed_copy", proc_sealed_copy},
  {"sendfd", proc_sendfd},
  {"set_winsize", proc_set_winsize},
  {"socketpair", proc_socketpair},
  {"tcgetattr", proc_tcgetattr},
  {"tcsetattr", proc_tcsetattr},
  {"timerfd", proc_timerfd},
  {"timerfd_set", proc_timerfd_set},
  {"write", proc_write},
  {NULL, NULL}
};
