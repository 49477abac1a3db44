/* notify.c - core.notify: the supervisor's side of seccomp user notification. */
/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <poll.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "nslua.h"

/*
** The target of a notification is blocked in its syscall until the
** supervisor answers; everything here works on the listener fd the exec
** tail sent (SECCOMP_FILTER_FLAG_NEW_LISTENER), from the nslua process.
** Reading the target's memory is racy by nature: another thread of the
** target can change it after we read it, and the target may have died and
** its pid been reused before /proc/PID/mem was opened.  The second is
** closed by SECCOMP_IOCTL_NOTIF_ID_VALID after each open and read (the
** notification still pending means the pid is still that task); the first
** is why a handler that enforces a path emulates the call (notify.open,
** then an fd answer) instead of answering "continue" (seccomp_unotify(2)).
*/

/* Linux 6.6: the target's wake-up after the answer runs on the
** supervisor's CPU when it can (lower round-trip latency). */
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

#define READ_MAX (1 << 20)  /* notify.read: at most 1 MiB at once */

/* A 64-bit id or argument: Lua integers are 64-bit two's complement. */
static uint64_t check_u64 (lua_State *L, int arg) {
  return (uint64_t)luaL_checkinteger(L, arg);
}

/*
** notify.recv(listener) -> {id, pid, nr, arch, ip, args = {[0] = a0, ..., [5] = a5}}
**                        | nil, msg, errno
** One pending notification.  Called after poll says the listener is
** readable; ENOENT when the target was killed in between (the kernel never
** blocks here then: its semaphore was already raised).
*/
static int notify_recv (lua_State *L) {
  int fd = nslua_checkfd(L, 1);
  struct seccomp_notif n;
  int i;
  memset(&n, 0, sizeof n);  /* the kernel refuses a non-zeroed buffer */
  if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &n) != 0)
    return nslua_fail(L, errno, "SECCOMP_IOCTL_NOTIF_RECV", NULL);
  lua_createtable(L, 0, 6);
  lua_pushinteger(L, (lua_Integer)n.id);
  lua_setfield(L, -2, "id");
  lua_pushinteger(L, (lua_Integer)n.pid);
  lua_setfield(L, -2, "pid");
  lua_pushinteger(L, (lua_Integer)n.data.nr);
  lua_setfield(L, -2, "nr");
  lua_pushinteger(L, (lua_Integer)n.data.arch);
  lua_setfield(L, -2, "arch");
  lua_pushinteger(L, (lua_Integer)n.data.instruction_pointer);
  lua_setfield(L, -2, "ip");
  lua_createtable(L, 5, 1);
  for (i = 0; i < 6; i++) {
    lua_pushinteger(L, (lua_Integer)n.data.args[i]);
    lua_rawseti(L, -2, i);
  }
  lua_setfield(L, -2, "args");
  return 1;
}

/*
** notify.send(listener, id, how [, value]) -> true | nil, msg, errno
**   how: "continue" (the kernel runs the call), "errno" (value = the errno,
**   1..4095), "value" (the call returns value without running).
** ENOENT when the target is gone (its call was interrupted).
*/
static int notify_send (lua_State *L) {
  static const char *const hows[] = {"continue", "errno", "value", NULL};
  int fd = nslua_checkfd(L, 1);
  struct seccomp_notif_resp r;
  memset(&r, 0, sizeof r);
  r.id = check_u64(L, 2);
  switch (luaL_checkoption(L, 3, NULL, hows)) {
    case 0:
      r.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
      break;
    case 1: {
      lua_Integer e = luaL_checkinteger(L, 4);
      luaL_argcheck(L, e >= 1 && e <= 4095, 4, "errno must be in 1..4095");
      r.error = -(int32_t)e;
      break;
    }
    default:
      r.val = (int64_t)luaL_checkinteger(L, 4);
      break;
  }
  if (ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &r) != 0)
    return nslua_fail(L, errno, "SECCOMP_IOCTL_NOTIF_SEND", NULL);
  return nslua_ok(L);
}

/*
** notify.addfd(listener, id, fd [, cloexec]) -> target fd number | nil, msg, errno
** Installs a copy of fd in the target and answers its call with the new
** number (SECCOMP_ADDFD_FLAG_SEND: one atomic step).  The caller keeps
** and closes its own fd.
*/
static int notify_addfd (lua_State *L) {
  int fd = nslua_checkfd(L, 1);
  struct seccomp_notif_addfd a;
  int rc;
  memset(&a, 0, sizeof a);
  a.id = check_u64(L, 2);
  a.srcfd = (uint32_t)nslua_checkfd(L, 3);
  a.flags = SECCOMP_ADDFD_FLAG_SEND;
  a.newfd_flags = lua_toboolean(L, 4) ? O_CLOEXEC : 0;
  rc = ioctl(fd, SECCOMP_IOCTL_NOTIF_ADDFD, &a);
  if (rc < 0)
    return nslua_fail(L, errno, "SECCOMP_IOCTL_NOTIF_ADDFD", NULL);
  lua_pushinteger(L, rc);
  return 1;
}

/* notify.valid(listener, id) -> boolean: the notification is still pending
** (its target alive and blocked in that very call). */
static int notify_valid (lua_State *L) {
  int fd = nslua_checkfd(L, 1);
  uint64_t id = check_u64(L, 2);
  lua_pushboolean(L, ioctl(fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0);
  return 1;
}

/* notify.sync_wakeup(listener) -> true | nil, msg, errno (Linux 6.6+) */
static int notify_sync_wakeup (lua_State *L) {
  int fd = nslua_checkfd(L, 1);
  if (ioctl(fd, SECCOMP_IOCTL_NOTIF_SET_FLAGS, (unsigned long)SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) != 0)
    return nslua_fail(L, errno, "SECCOMP_IOCTL_NOTIF_SET_FLAGS", NULL);
  return nslua_ok(L);
}

/*
** notify.read(memfd, addr, n [, stop_at_nul]) -> string | nil, msg, errno
** Up to n bytes of the target's memory at addr, from its /proc/PID/mem
** (opened by the caller).  Short when an unmapped page ends the range;
** with stop_at_nul, the bytes before the first NUL (a C string; the result
** then says by its length whether a NUL was found: #s < n).
*/
static int notify_read (lua_State *L) {
  int fd = nslua_checkfd(L, 1);
  uint64_t addr = check_u64(L, 2);
  lua_Integer want = luaL_checkinteger(L, 3);
  int stop = lua_toboolean(L, 4);
  luaL_Buffer b;
  size_t got = 0;
  luaL_argcheck(L, want >= 0 && want <= READ_MAX, 3, "at most 1 MiB");
  if (addr > (uint64_t)INT64_MAX)
    return nslua_fail(L, EFAULT, "pread", NULL);
  luaL_buffinit(L, &b);
  while (got < (size_t)want) {
    size_t chunk = (size_t)want - got;
    char *p;
    ssize_t n;
    if (chunk > LUAL_BUFFERSIZE)
      chunk = LUAL_BUFFERSIZE;
    p = luaL_prepbuffsize(&b, chunk);
    n = pread(fd, p, chunk, (off_t)(addr + got));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      if (got > 0)
        break;  /* an unmapped page after some bytes: what we have */
      return nslua_fail(L, errno, "pread", NULL);
    }
    if (n == 0)
      break;
    if (stop) {
      char *nul = memchr(p, '\0', (size_t)n);
      if (nul != NULL) {
        luaL_addsize(&b, (size_t)(nul - p));
        luaL_pushresult(&b);
        return 1;
      }
    }
    luaL_addsize(&b, (size_t)n);
    got += (size_t)n;
  }
  luaL_pushresult(&b);
  return 1;
}

/* /proc/PID/status, opened before the notification is checked (see
** pinned()); NULL with errno set. */
static FILE *open_status (pid_t pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  return fopen(path, "re");
}

/* The target's fs ids, umask and effective capabilities from its status
** file (ids as the opener's user namespace sees them; caps may be NULL),
** which it closes; 0 or errno. */
static int read_ids (FILE *f, uid_t *uid, gid_t *gid, mode_t *mask, uint64_t *caps) {
  char line[256];
  int found = 0;
  while (fgets(line, sizeof line, f) != NULL) {
    unsigned long a, b, c, d;
    unsigned long long e;
    unsigned int m;
    if (caps != NULL && sscanf(line, "CapEff: %llx", &e) == 1) {
      *caps = (uint64_t)e;
    } else if (sscanf(line, "Umask: %o", &m) == 1) {
      *mask = (mode_t)(m & 0777);
    } else if (sscanf(line, "Uid: %lu %lu %lu %lu", &a, &b, &c, &d) == 4) {
      *uid = (uid_t)d;
      found |= 1;
    } else if (sscanf(line, "Gid: %lu %lu %lu %lu", &a, &b, &c, &d) == 4) {
      *gid = (gid_t)d;
      found |= 2;
    }
  }
  fclose(f);
  return found == 3 ? 0 : ESRCH;
}

/*
** The target of a request, pinned: every handle on it (/proc/PID/...
** files, a pidfd) is opened first, then the notification is checked.
** Still pending means the task those handles name is the one blocked in
** the call: its pid cannot have been reused by another process (in the
** sandbox or on the host) while it is alive.  0, or ESRCH when it is gone.
*/
static int pinned (int listener, uint64_t id) {
  return ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0 ? 0 : ESRCH;
}

/* The request arguments every target function starts with: listener, id,
** pid at 1..3. */
static pid_t check_target (lua_State *L, int *listener, uint64_t *id) {
  lua_Integer pid;
  *listener = nslua_checkfd(L, 1);
  *id = check_u64(L, 2);
  pid = luaL_checkinteger(L, 3);
  luaL_argcheck(L, pid > 0 && pid <= INT_MAX, 3, "must be a pid");
  return (pid_t)pid;
}

/* openat2 with 'resolve' from dfd; an fd or -1 with errno set. */
static int open2 (int dfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve) {
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = flags | O_CLOEXEC;
  how.mode = (flags & (O_CREAT | __O_TMPFILE)) ? mode : 0;
  how.resolve = resolve;
  return (int)syscall(SYS_openat2, dfd, path, &how, sizeof how);
}

/* Credentials of the target for one call: fs ids, no supplementary
** groups, its umask, and no effective capability it lacks, when we are
** root (a rootless nslua is the target's uid and holds no capability on
** the host).  setfsuid to a non-zero id drops the file capabilities by
** itself; a target that is host uid 0 (user = "host") keeps only its own. */
typedef struct {
  int active;
  gid_t *groups;
  int ngroups;
  mode_t mask;
  struct __user_cap_data_struct caps[2];
} as_target;

static int capget2 (struct __user_cap_data_struct *d) {
  struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
  return (int)syscall(SYS_capget, &h, d);
}

static int capset2 (const struct __user_cap_data_struct *d) {
  struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
  return (int)syscall(SYS_capset, &h, d);
}

static void back_to_us (as_target *t) {
  umask(t->mask);
  if (!t->active)
    return;
  t->active = 0;
  /* cannot fail for root; never go on with the wrong caps, ids or groups */
  if (capset2(t->caps) != 0)
    abort();
  (void)syscall(SYS_setfsuid, 0);
  (void)syscall(SYS_setfsgid, 0);
  if (syscall(SYS_setgroups, (size_t)t->ngroups, t->groups) != 0)
    abort();
  free(t->groups);
}

static int become_target (as_target *t, FILE *status) {
  uid_t uid = 0;
  gid_t gid = 0;
  mode_t mask = 022;
  uint64_t eff = 0;
  struct __user_cap_data_struct less[2];
  int err;
  memset(t, 0, sizeof *t);
  if ((err = read_ids(status, &uid, &gid, &mask, &eff)) != 0)
    return err;
  t->mask = umask(mask);
  if (geteuid() != 0)
    return 0;
  if (capget2(t->caps) != 0) {
    err = errno;
    umask(t->mask);
    return err;
  }
  if ((t->ngroups = getgroups(0, NULL)) < 0 ||
      (t->groups = malloc(sizeof *t->groups * (size_t)(t->ngroups + 1))) == NULL ||
      (t->ngroups = getgroups(t->ngroups, t->groups)) < 0) {
    err = errno != 0 ? errno : ENOMEM;
    free(t->groups);
    umask(t->mask);
    return err;
  }
  /* raw syscalls: glibc's setgroups would change every thread, and
  ** setfsuid cannot report failure; the old value comes back */
  if (syscall(SYS_setgroups, 0, NULL) != 0) {
    err = errno;
    free(t->groups);
    umask(t->mask);
    return err;
  }
  (void)syscall(SYS_setfsgid, gid);
  (void)syscall(SYS_setfsuid, uid);
  t->active = 1;
  /* last: the changes above need CAP_SETGID and CAP_SETUID */
  memcpy(less, t->caps, sizeof less);
  less[0].effective &= (uint32_t)eff;
  less[1].effective &= (uint32_t)(eff >> 32);
  if (capset2(less) != 0) {
    err = errno;
    back_to_us(t);
    return err;
  }
  return 0;
}


/*
** notify.open(listener, id, pid, path, flags, mode [, beneath])
**   -> fd box | nil, msg, errno
** Opens 'path', an absolute path as the target sees it, in the target's
** root (/proc/PID/root with RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS: ".."
** and symlinks never leave it) with the target's fs uid, gid and umask,
** so an emulated open grants nothing the target could not open itself.
** With 'beneath' (an absolute directory that 'path' is under, lexically),
** that directory is opened in the root and the rest of the path resolved
** with RESOLVE_BENEATH: neither ".." nor a symlink leaves it (EXDEV).
** ESRCH when the request is no longer pending (see pinned()).
*/
static int notify_open (lua_State *L) {
  int listener;
  uint64_t id;
  pid_t pid = check_target(L, &listener, &id);
  const char *path = luaL_checkstring(L, 4);
  lua_Integer flags = luaL_checkinteger(L, 5);
  lua_Integer mode = luaL_optinteger(L, 6, 0);
  const char *beneath = luaL_optstring(L, 7, NULL);
  int *box = nslua_newfd(L);
  char root[64];
  int rfd, dfd = -1, fd = -1, err = 0;
  size_t blen = 0;
  FILE *status;
  as_target t;
  uint64_t how_flags;
  luaL_argcheck(L, path[0] == '/', 4, "must be an absolute path");
  luaL_argcheck(L, mode >= 0 && mode <= 07777, 6, "must be a mode");
  if (beneath != NULL) {
    blen = strlen(beneath);
    while (blen > 1 && beneath[blen - 1] == '/')
      blen--;
    luaL_argcheck(L, beneath[0] == '/' && strncmp(path, beneath, blen) == 0 &&
                  (blen == 1 || path[blen] == '/' || path[blen] == '\0'), 7,
                  "must be a directory that the path is under");
  }
  snprintf(root, sizeof root, "/proc/%d/root", (int)pid);
  if ((rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
    return nslua_fail(L, errno, "open", root);
  if ((status = open_status(pid)) == NULL || (err = pinned(listener, id)) != 0) {
    err = err != 0 ? err : errno;
    if (status != NULL)
      fclose(status);
    close(rfd);
    return nslua_fail(L, err, "open", "status");
  }
  if ((err = become_target(&t, status)) != 0) {
    close(rfd);
    return nslua_fail(L, err, "read", "status");
  }
  /* never our controlling terminal; never blocking nslua (a FIFO without
  ** a reader, a lease being broken): the answer must come at once */
  how_flags = (uint64_t)flags;
  if (!(flags & O_PATH))  /* openat2 takes no other flag with O_PATH */
    how_flags |= O_NOCTTY | O_NONBLOCK;
  if (beneath == NULL) {
    if ((fd = open2(rfd, path, how_flags, (uint64_t)mode,
                    RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)) < 0)
      err = errno;
  } else {
    char *dir = strndup(beneath, blen);
    const char *rest = path + blen;
    while (*rest == '/')
      rest++;
    if (dir == NULL)
      err = ENOMEM;
    else if ((dfd = open2(rfd, dir, O_PATH | O_DIRECTORY, 0,
                          RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)) < 0)
      err = errno;
    else if ((fd = open2(dfd, *rest ? rest : ".", how_flags, (uint64_t)mode,
                         RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)) < 0)
      err = errno;
    free(dir);
  }
  back_to_us(&t);
  if (dfd >= 0)
    close(dfd);
  close(rfd);
  if (fd < 0)
    return nslua_fail(L, err, "openat2", path);
  *box = fd;
  {
    struct stat st;
    /* /dev/tty would be nslua's own controlling terminal (the open ran
    ** here): the target gets what it has without one */
    if (fstat(fd, &st) != 0)
      return nslua_fail(L, errno, "fstat", path);
    if (S_ISCHR(st.st_mode) && major(st.st_rdev) == 5 && minor(st.st_rdev) == 0)
      return nslua_fail(L, ENXIO, "openat2", path);
    /* the open itself never blocked (a FIFO, a lease): the fd blocks as asked */
    if (!(flags & (O_NONBLOCK | O_PATH)) && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0)
      return nslua_fail(L, errno, "fcntl", path);
  }
  return 1;
}

/* A dup of the target's fd 'tfd' (pidfd_getfd: ptrace access to it,
** which its parent's owner has), through a pidfd opened before the
** request is checked; -1 with errno set (ESRCH: no longer pending). */
#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif

static int target_fd (int listener, uint64_t id, pid_t pid, int tfd) {
  /* the request names a thread: PIDFD_THREAD (Linux 6.9) takes any */
  int pidfd = (int)syscall(SYS_pidfd_open, pid, PIDFD_THREAD), fd, err;
  if (pidfd < 0 && errno == EINVAL)
    pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (pidfd < 0)
    return -1;
  if ((err = pinned(listener, id)) != 0) {
    close(pidfd);
    errno = err;
    return -1;
  }
  fd = (int)syscall(SYS_pidfd_getfd, pidfd, tfd, 0);
  err = errno;
  close(pidfd);
  errno = err;
  return fd;
}

/* notify.getfd(listener, id, pid, fd) -> fd box | nil, msg, errno: a copy
** of the target's fd (pidfd_getfd), e.g. to answer an open of /dev/stdout. */
static int notify_getfd (lua_State *L) {
  int listener;
  uint64_t id;
  pid_t pid = check_target(L, &listener, &id);
  lua_Integer tfd = luaL_checkinteger(L, 4);
  int *box = nslua_newfd(L);
  int fd;
  luaL_argcheck(L, tfd >= 0 && tfd <= INT_MAX, 4, "must be an fd number");
  if ((fd = target_fd(listener, id, pid, (int)tfd)) < 0)
    return nslua_fail(L, errno, "pidfd_getfd", NULL);
  *box = fd;
  return 1;
}

/*
** notify.connect(listener, id, pid, fd, sockaddr, timeout_ms)
**   -> 0 | errno | nil, msg, errno
** Emulates connect(fd, sockaddr) of the target on its own socket, with
** the address bytes the handler checked (never the target's memory
** again): a datagram or non-blocking socket connects at once; a blocking
** stream socket connects here, waiting at most timeout_ms for the
** handshake (ETIMEDOUT after it; the connection may still complete).
** The result is what the target's connect returns: 0 or an errno.
*/
static int notify_connect (lua_State *L) {
  int listener;
  uint64_t id;
  pid_t pid = check_target(L, &listener, &id);
  lua_Integer tfd = luaL_checkinteger(L, 4);
  size_t len;
  const char *addr = luaL_checklstring(L, 5, &len);
  lua_Integer timeout = luaL_checkinteger(L, 6);
  int fd, type = 0, fl, rc, err = 0;
  socklen_t tl = sizeof type;
  luaL_argcheck(L, tfd >= 0 && tfd <= INT_MAX, 4, "must be an fd number");
  luaL_argcheck(L, len >= sizeof(sa_family_t) && len <= sizeof(struct sockaddr_storage), 5,
                "must be a socket address");
  luaL_argcheck(L, timeout >= 0 && timeout <= INT_MAX, 6, "must be milliseconds");
  if ((fd = target_fd(listener, id, pid, (int)tfd)) < 0) {
    err = errno;
    if (err != EBADF)
      return nslua_fail(L, err, "pidfd_getfd", NULL);
    lua_pushinteger(L, EBADF);  /* the target's own mistake: its answer */
    return 1;
  }
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0) {
    err = errno;  /* ENOTSOCK: what the target's connect says */
    close(fd);
    lua_pushinteger(L, err);
    return 1;
  }
  fl = fcntl(fd, F_GETFL);
  if (type != SOCK_STREAM || fl < 0 || (fl & O_NONBLOCK)) {
    rc = connect(fd, (const struct sockaddr *)(const void *)addr, (socklen_t)len);
    err = rc == 0 ? 0 : errno;
  } else {
    /* the file status flags are shared with the target, which is blocked
    ** in its connect until we answer: nobody sees the flag change */
    if (fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) {
      err = errno;
      close(fd);
      return nslua_fail(L, err, "fcntl", NULL);
    }
    rc = connect(fd, (const struct sockaddr *)(const void *)addr, (socklen_t)len);
    err = rc == 0 ? 0 : errno;
    if (rc != 0 && err == EINPROGRESS) {
      struct pollfd pf = { fd, POLLOUT, 0 };
      socklen_t el = sizeof err;
      int n;
      do
        n = poll(&pf, 1, (int)timeout);
      while (n < 0 && errno == EINTR);
      if (n == 0)
        err = ETIMEDOUT;
      else if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0)
        err = errno;
    }
    (void)fcntl(fd, F_SETFL, fl);
  }
  close(fd);
  lua_pushinteger(L, err);
  return 1;
}

/* fsconfig of each "key=value" (or "flag") of 'data' (comma-separated); 0 or errno. */
static int fs_options (int fs, const char *data) {
  char buf[512], *save = NULL, *opt;
  if (data == NULL)
    return 0;
  if (strlen(data) >= sizeof buf)
    return EINVAL;
  strcpy(buf, data);
  for (opt = strtok_r(buf, ",", &save); opt != NULL; opt = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(opt, '=');
    int rc;
    if (eq != NULL) {
      *eq = '\0';
      rc = (int)syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, opt, eq + 1, 0);
    } else {
      rc = (int)syscall(SYS_fsconfig, fs, FSCONFIG_SET_FLAG, opt, NULL, 0);
    }
    if (rc != 0)
      return errno;
  }
  return 0;
}

/*
** notify.mount(listener, id, pid, target, fstype, flags, data)
**   -> true | nil, msg, errno
** Mounts a new 'fstype' (no source: tmpfs, ramfs, mqueue...) on 'target'
** in the target's mount namespace.  'target' (absolute, as the target
** sees it) is resolved here, in the target's root with RESOLVE_IN_ROOT |
** RESOLVE_NO_SYMLINKS: no symlink and no "..", so the directory is the
** path the handler checked, and never one on the host (a chrooted
** target's root is its own).  A child joins the target's user namespace
** (when we are not root) and mount namespace, makes the filesystem
** (fsopen, the options of 'data', the target's fs ids as uid= and gid=)
** and moves it onto that directory.  flags: mount(2)'s MS_RDONLY,
** MS_NOEXEC, MS_NOATIME, MS_NODIRATIME are kept; nosuid and nodev always.
** The handler decides what may be mounted.
*/
static int notify_mount (lua_State *L) {
  int listener;
  uint64_t id;
  pid_t pid = check_target(L, &listener, &id);
  const char *target = luaL_checkstring(L, 4);
  const char *fstype = luaL_checkstring(L, 5);
  lua_Integer flags = luaL_checkinteger(L, 6);
  const char *data = luaL_optstring(L, 7, NULL);
  char path[64];
  int userns = -1, mntns = -1, rfd = -1, dfd = -1, st, err = 0;
  pid_t child;
  luaL_argcheck(L, target[0] == '/', 4, "must be an absolute path");
  snprintf(path, sizeof path, "/proc/%d/root", (int)pid);
  if ((rfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
    return nslua_fail(L, errno, "open", path);
  dfd = open2(rfd, target, O_PATH | O_DIRECTORY, 0, RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS);
  err = dfd < 0 ? errno : 0;
  close(rfd);
  if (err != 0)
    return nslua_fail(L, err, "openat2", target);
  snprintf(path, sizeof path, "/proc/%d/ns/mnt", (int)pid);
  if ((mntns = open(path, O_RDONLY | O_CLOEXEC)) < 0)
    err = errno;
  if (err == 0 && geteuid() != 0) {
    snprintf(path, sizeof path, "/proc/%d/ns/user", (int)pid);
    if ((userns = open(path, O_RDONLY | O_CLOEXEC)) < 0)
      err = errno;
  }
  if (err == 0)
    err = pinned(listener, id);
  if (err != 0) {
    close(dfd);
    if (mntns >= 0)
      close(mntns);
    if (userns >= 0)
      close(userns);
    return nslua_fail(L, err, "mount", target);
  }
  child = fork();
  if (child == 0) {
    unsigned int attr = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
    char ids[64];
    uid_t uid = 0;
    gid_t gid = 0;
    mode_t mask = 0;
    FILE *status;
    int fs, mnt, e;
    if (flags & MS_RDONLY)
      attr |= MOUNT_ATTR_RDONLY;
    if (flags & MS_NOEXEC)
      attr |= MOUNT_ATTR_NOEXEC;
    if (flags & MS_NOATIME)
      attr |= MOUNT_ATTR_NOATIME;
    if (flags & MS_NODIRATIME)
      attr |= MOUNT_ATTR_NODIRATIME;
    if (userns >= 0 && setns(userns, CLONE_NEWUSER) != 0)
      _exit(errno & 0xff);
    /* owned by the target: its ids as seen from the user namespace the
    ** options are read in (ours, after the join), from our /proc (the
    ** target's mount namespace has its own), then the request checked
    ** again: the file read was the target's */
    if ((status = open_status(pid)) == NULL || read_ids(status, &uid, &gid, &mask, NULL) != 0 ||
        pinned(listener, id) != 0)
      _exit(ESRCH);
    if (setns(mntns, CLONE_NEWNS) != 0)
      _exit(errno & 0xff);
    if ((fs = (int)syscall(SYS_fsopen, fstype, FSOPEN_CLOEXEC)) < 0)
      _exit(errno & 0xff);
    if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "source", fstype, 0) != 0)
      _exit(errno & 0xff);
    snprintf(ids, sizeof ids, "uid=%u,gid=%u", (unsigned)uid, (unsigned)gid);
    if ((e = fs_options(fs, data)) != 0 || (e = fs_options(fs, ids)) != 0)
      _exit(e & 0xff);
    if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) != 0)
      _exit(errno & 0xff);
    if ((mnt = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, attr)) < 0)
      _exit(errno & 0xff);
    if (syscall(SYS_move_mount, mnt, "", dfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
      _exit(errno & 0xff);
    _exit(0);
  }
  if (child < 0)
    err = errno;
  close(dfd);
  close(mntns);
  if (userns >= 0)
    close(userns);
  if (child < 0)
    return nslua_fail(L, err, "fork", NULL);
  while (waitpid(child, &st, 0) < 0)
    if (errno != EINTR)
      return nslua_fail(L, errno, "waitpid", NULL);
  if (!WIFEXITED(st))
    return nslua_fail(L, EIO, "mount", target);
  if (WEXITSTATUS(st) != 0)
    return nslua_fail(L, WEXITSTATUS(st), "mount", target);
  return nslua_ok(L);
}

/* notify.sock_domain(fd) -> AF_* number | nil, msg, errno (SO_DOMAIN:
** read from the socket itself, never from a target's memory) */
static int notify_sock_domain (lua_State *L) {
  int fd = nslua_checkfd(L, 1), dom = 0;
  socklen_t len = sizeof dom;
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &len) != 0)
    return nslua_fail(L, errno, "getsockopt", "SO_DOMAIN");
  lua_pushinteger(L, dom);
  return 1;
}

/* notify.syscall_name(arch, nr) -> string | nil  (libseccomp's name for a
** native or other-arch number; arch is the AUDIT_ARCH_* value) */
static int notify_syscall_name (lua_State *L) {
  uint32_t arch = (uint32_t)luaL_checkinteger(L, 1);
  lua_Integer nr = luaL_checkinteger(L, 2);
  char *name;
  if (nr < 0 || nr > INT_MAX)
    return 0;
  name = seccomp_syscall_resolve_num_arch(arch, (int)nr);
  if (name == NULL)
    return 0;
  lua_pushstring(L, name);
  free(name);
  return 1;
}

static const luaL_Reg notify_funcs[] = {
  {"addfd", notify_addfd},
  {"connect", notify_connect},
  {"getfd", notify_getfd},
  {"mount", notify_mount},
  {"open", notify_open},
  {"read", notify_read},
  {"recv", notify_recv},
  {"send", notify_send},
  {"sock_domain", notify_sock_domain},
  {"sync_wakeup", notify_sync_wakeup},
  {"syscall_name", notify_syscall_name},
  {"valid", notify_valid},
  {NULL, NULL}
};

int nslua_open_notify (lua_State *L) {
  luaL_newlib(L, notify_funcs);
  return 1;
}
