/* notify.c - core.notify: the supervisor's side of seccomp user notification. */
/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

/* The target's fs ids and umask from its status file (ids as the opener's
** user namespace sees them), which it closes; 0 or errno. */
static int read_fsids (FILE *f, uid_t *uid, gid_t *gid, mode_t *mask) {
  char line[256];
  int found = 0;
  while (fgets(line, sizeof line, f) != NULL) {
    unsigned long a, b, c, d;
    unsigned int m;
    if (sscanf(line, "Umask: %o", &m) == 1) {
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

/* Credentials of the target for one call: fs ids, no supplementary groups
** and its umask, when we are root (a rootless nslua is the target's uid). */
typedef struct {
  int active;
  gid_t *groups;
  int ngroups;
  mode_t mask;
} as_target;

static int become_target (as_target *t, FILE *status) {
  uid_t uid = 0;
  gid_t gid = 0;
  mode_t mask = 022;
  int err;
  memset(t, 0, sizeof *t);
  if ((err = read_fsids(status, &uid, &gid, &mask)) != 0)
    return err;
  t->mask = umask(mask);
  if (geteuid() != 0)
    return 0;
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
  return 0;
}

static void back_to_us (as_target *t) {
  umask(t->mask);
  if (!t->active)
    return;
  (void)syscall(SYS_setfsuid, 0);
  (void)syscall(SYS_setfsgid, 0);
  /* cannot fail for root; never go on with the wrong groups */
  if (syscall(SYS_setgroups, (size_t)t->ngroups, t->groups) != 0)
    abort();
  free(t->groups);
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
  if (beneath == NULL) {
    if ((fd = open2(rfd, path, (uint64_t)flags, (uint64_t)mode,
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
    else if ((fd = open2(dfd, *rest ? rest : ".", (uint64_t)flags, (uint64_t)mode,
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
  return 1;
}

/* A dup of the target's fd 'tfd' (pidfd_getfd: ptrace access to it,
** which its parent's owner has), through a pidfd opened before the
** request is checked; -1 with errno set (ESRCH: no longer pending). */
static int target_fd (int listener, uint64_t id, pid_t pid, int tfd) {
  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0), fd, err;
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

/*
** notify.mount(listener, id, pid, target, fstype, flags, data)
**   -> true | nil, msg, errno
** Mounts a new 'fstype' (no source: tmpfs, ramfs, mqueue...) on 'target'
** in the target's mount namespace, from a child that joins its user
** namespace (when we are not root) and its mount namespace: the path is
** resolved there, against the namespace's root, so nothing on the host
** can be named.  flags is mount(2)'s integer flags; nosuid and nodev are
** always added, and the new root belongs to the target's fs ids (uid=,
** gid= after 'data').  The handler decides what may be mounted.
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
  int userns = -1, mntns, st, err = 0;
  pid_t child;
  luaL_argcheck(L, target[0] == '/', 4, "must be an absolute path");
  snprintf(path, sizeof path, "/proc/%d/ns/mnt", (int)pid);
  if ((mntns = open(path, O_RDONLY | O_CLOEXEC)) < 0)
    return nslua_fail(L, errno, "open", path);
  if (geteuid() != 0) {
    snprintf(path, sizeof path, "/proc/%d/ns/user", (int)pid);
    if ((userns = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
      err = errno;
      close(mntns);
      return nslua_fail(L, err, "open", path);
    }
  }
  if ((err = pinned(listener, id)) != 0) {
    close(mntns);
    if (userns >= 0)
      close(userns);
    return nslua_fail(L, err, "mount", target);
  }
  child = fork();
  if (child == 0) {
    unsigned long f = ((unsigned long)flags & ~(unsigned long)(MS_BIND | MS_MOVE | MS_REMOUNT |
                        MS_SHARED | MS_SLAVE | MS_PRIVATE | MS_UNBINDABLE)) | MS_NOSUID | MS_NODEV;
    char opts[512];
    uid_t uid = 0;
    gid_t gid = 0;
    mode_t mask = 0;
    FILE *status;
    int n;
    if (userns >= 0 && setns(userns, CLONE_NEWUSER) != 0)
      _exit(errno & 0xff);
    /* owned by the target: its ids as seen from the user namespace the
    ** options are read in (ours, after the join), from our /proc (the
    ** target's mount namespace has its own), then the request checked
    ** again: the file read was the target's */
    if ((status = open_status(pid)) == NULL || read_fsids(status, &uid, &gid, &mask) != 0 ||
        pinned(listener, id) != 0)
      _exit(ESRCH);
    if (setns(mntns, CLONE_NEWNS) != 0)
      _exit(errno & 0xff);
    n = snprintf(opts, sizeof opts, "%s%suid=%u,gid=%u", data ? data : "", data && *data ? "," : "",
                 (unsigned)uid, (unsigned)gid);
    if (n < 0 || (size_t)n >= sizeof opts)
      _exit(EINVAL);
    if (mount(fstype, target, fstype, f, opts) != 0)
      _exit(errno & 0xff);
    _exit(0);
  }
  if (child < 0)
    err = errno;
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
  {"sync_wakeup", notify_sync_wakeup},
  {"syscall_name", notify_syscall_name},
  {"valid", notify_valid},
  {NULL, NULL}
};

int nslua_open_notify (lua_State *L) {
  luaL_newlib(L, notify_funcs);
  return 1;
}
