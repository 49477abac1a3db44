/* guard.c - the set-id guard's watch: fanotify marks on the mounts that write as host root. */
/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <linux/openat2.h>

#include "nslua.h"
#include "status.h"

/*
** A read-write idmapped mount, or an overlay, of a privileged sandbox
** writes on the host as root.  The guard's seccomp half (seccomp.lua
** "setid_guard") keeps the payload from making a set-id or file-capability
** program there; this half keeps it from rewriting one that is there
** already, through a shared writable mapping (a store to it keeps the
** bits) or an overlay's copy-up (which keeps them too).  Both need a
** write open, and a write open of such a file on a watched mount fails
** with EPERM; reading and executing it still work.
**
** The parent (host root: fanotify's mount marks need it) makes the group
** before the clone (mount.guard_group), and once the child's mounts are
** in place it marks each watched mount of it (mount.guard_mark; the
** child's "marks" record, setup.c).  The answerer, a process of the
** host that the parent starts before the clone (mount.guard_answerer),
** answers every open on them (not the init: it waits out the command's
** execve, CLONE_VFORK, which may open a watched file).  The init and the
** answerer hold the group's only copies afterwards.  When the group goes,
** the kernel lets every open through, so the init ends the sandbox when
** the answerer dies (its pidfd), and the answerer ends only when the init
** has, which is after every process of its pid namespace (init.c).  A file answered once as harmless is not asked about
** again (an evictable ignore mark on its inode): the payload cannot make
** it set-id (the seccomp half), only the host could.
*/

#ifndef FAN_MARK_IGNORE_SURV
#define FAN_MARK_IGNORE_SURV 0x00000440   /* FAN_MARK_IGNORE | FAN_MARK_IGNORED_SURV_MODIFY */
#endif
#ifndef FAN_MARK_EVICTABLE
#define FAN_MARK_EVICTABLE 0x00000200
#endif
#ifndef FAN_REPORT_TID
#define FAN_REPORT_TID 0x00000100
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif

/* Whether the file behind an event's fd is one the guard keeps: a
** regular file with a set-id bit or file capabilities.  An answer the
** kernel will not give counts as "yes". */
static int guard_kept (int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0)
    return 1;
  if (!S_ISREG(st.st_mode))
    return 0;
  if (st.st_mode & (S_ISUID | S_ISGID))
    return 1;
  if (fgetxattr(fd, "security.capability", NULL, 0) >= 0)
    return 1;
  return errno != ENODATA && errno != EOPNOTSUPP;
}

/* A waiting opener that /proc shows as "running" (each answer wakes every
** waiter until it sees its own event unanswered, and on a busy machine it
** may wait for a CPU a while) is read again, GUARD_RUNNING_US apart (the
** answerer's timer slack is 1 ns), for up to GUARD_RUNNING_NS; then it
** counts as a write.  Only set-id and file-capability programs come here. */
#define GUARD_RUNNING_US 20
#define GUARD_RUNNING_NS 1000000000LL

/* Whether the open thread 'tid' waits in may write, from the call it is
** blocked in (<procfd>/<tid>/syscall: its number and arguments, which
** cannot change while it waits).  A call that is not an open or an exec
** we know counts as a write; so does a 32-bit call (/proc gives its own
** numbers, none of which is one of these opens). */
static int guard_writes (int procfd, int tid) {
  char path[32], buf[256];
  unsigned long a[6], flags;
  long nr;
  ssize_t n = 0;
  long long until = 0;
  int fd;
  if (tid <= 0 || procfd < 0)
    return 1;   /* a process outside the sandbox's pid namespace */
  snprintf(path, sizeof path, "%d/syscall", tid);
  for (;;) {
    if ((fd = openat(procfd, path, O_RDONLY | O_CLOEXEC)) < 0)
      return 1;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
      return 1;
    buf[n] = '\0';
    if (strncmp(buf, "running", 7) != 0)
      break;
    if (until == 0)
      until = nslua_now_ns() + GUARD_RUNNING_NS;
    else if (nslua_now_ns() > until)
      return 1;
    (void)usleep(GUARD_RUNNING_US);
  }
  if (sscanf(buf, "%ld %lx %lx %lx %lx %lx %lx", &nr, &a[0], &a[1], &a[2], &a[3], &a[4],
             &a[5]) != 7)
    return 1;
  if (nr == SYS_execve || nr == SYS_execveat)
    return 0;
  if (nr == SYS_openat || nr == SYS_open_by_handle_at)
    flags = a[2];
#ifdef SYS_open
  else if (nr == SYS_open)
    flags = a[1];
#endif
  else
    return 1;   /* creat, openat2 (the seccomp half refuses it), the unknown */
  flags &= 0xffffffffUL;
  return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC) != 0;
}

/* Answer every event waiting on the group 'fan' (non-blocking): 0 when
** it is drained, else errno.  Each batch read is decided whole before any
** answer is written, as an answer wakes the openers still waiting. */
static int guard_answer (int fan, int procfd) {
  union {
    struct fanotify_event_metadata m;
    char b[4096];
  } buf;
  unsigned char kept[4096 / FAN_EVENT_METADATA_LEN], allow[4096 / FAN_EVENT_METADATA_LEN];
  for (;;) {
    struct fanotify_event_metadata *m;
    size_t i;
    int err = 0;
    ssize_t got = read(fan, buf.b, sizeof buf.b), n;
    if (got < 0) {
      /* the kernel could not open the file of the first event for us
      ** (a socket, EMFILE, an LSM): it refused that open itself */
      if (errno == EAGAIN)
        return 0;
      if (errno == EBADF || errno == EINVAL || errno == EFAULT)
        return errno;
      continue;
    }
    if (got == 0)
      return 0;
    /* (FAN_EVENT_NEXT counts n down: each pass from 'got') */
    for (m = &buf.m, i = 0, n = got; FAN_EVENT_OK(m, n); m = FAN_EVENT_NEXT(m, n), i++) {
      /* (an unlimited queue never overflows; if it did, an open went by
      ** unasked: end, and the init ends the sandbox) */
      if (m->vers != FANOTIFY_METADATA_VERSION)
        err = EPROTO;
      else if (m->mask & FAN_Q_OVERFLOW)
        err = EOVERFLOW;
      if (err != 0 || m->fd < 0)   /* (no fd: the kernel refused the open) */
        continue;
      kept[i] = (unsigned char)guard_kept(m->fd);
      allow[i] = (unsigned char)(!kept[i] || !guard_writes(procfd, (int)m->pid));
    }
    for (m = &buf.m, i = 0, n = got; FAN_EVENT_OK(m, n); m = FAN_EVENT_NEXT(m, n), i++) {
      struct fanotify_response r;
      if (m->vers != FANOTIFY_METADATA_VERSION || m->fd < 0)
        continue;
      r.fd = m->fd;
      r.response = err == 0 && allow[i] ? FAN_ALLOW : FAN_DENY;
      /* (an opener killed meanwhile has no event left to answer) */
      if (write(fan, &r, sizeof r) != (ssize_t)sizeof r && errno != ENOENT && err == 0)
        err = errno;
      /* harmless for good: its inode asks no more (best effort; an
      ** evictable mark goes with the inode from the cache) */
      if (err == 0 && !kept[i])
        (void)fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_IGNORE_SURV | FAN_MARK_EVICTABLE,
                            FAN_OPEN_PERM, m->fd, NULL);
      close(m->fd);
    }
    if (err != 0)
      return err;
  }
}

/* The answerer's life (never returns): answer the group's events, with
** the host's proc for the syscalls, until the init it watches has ended
** (its pidfd, sent on 'sock' by the caller) or the caller gave up (the
** socket's end before a pidfd came). */
static void guard_answerer (int fan, int sock) __attribute__((noreturn));
static void guard_answerer (int fan, int sock) {
  int procfd, init = -1;
  if ((procfd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
    _exit(1);
  for (;;) {
    struct pollfd pf[2] = { { fan, POLLIN, 0 }, { init >= 0 ? init : sock, POLLIN, 0 } };
    if (poll(pf, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      _exit(1);
    }
    if ((pf[0].revents & (POLLERR | POLLNVAL)) ||
        ((pf[0].revents & POLLIN) && guard_answer(fan, procfd) != 0))
      _exit(1);
    if (pf[1].revents == 0)
      continue;
    if (init >= 0)
      _exit(0);   /* the init has ended, and every process of its pid namespace */
    if ((init = nslua_recvfd(sock)) < 0)
      _exit(0);
    close(sock);
  }
}

/*
** mount.guard_answerer(group) -> sock, pidfd | nil, msg, errno
** Starts the set-id guard's answerer: a process of its own (forked twice,
** so nobody waits for it: its end waits out the marks' grace period),
** outside the sandbox, that keeps only the group and the socket, blocks
** every signal but SIGKILL, and answers the group's events.  'pidfd' is
** its pidfd, for the init to watch; send the init's pidfd on 'sock'
** (proc.sendfd) once the sandbox is cloned, or close 'sock' to end it.
*/
static int mnt_guard_answerer (lua_State *L) {
  int fan = nslua_checkfd(L, 1);
  int *sbox = nslua_newfd(L), *pbox = nslua_newfd(L);
  int sv[2], st, err;
  pid_t mid;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return nslua_fail(L, errno, "socketpair", NULL);
  mid = fork();
  if (mid == 0) {
    sigset_t all;
    int self, keep[2] = { fan, sv[1] };
    sigfillset(&all);
    if (sigprocmask(SIG_SETMASK, &all, NULL) != 0 || setsid() < 0)
      _exit(1);
    if (fork() != 0)
      _exit(0);
    /* nothing of the caller's: its stdio (a pipe a caller waits on the
    ** end of, for a detached container) and its cwd */
    if (nslua_close_fds_except(keep, 2) != 0 || chdir("/") != 0)
      _exit(1);
    {
      int null = open("/dev/null", O_RDWR | O_CLOEXEC), t;
      if (null < 0)
        _exit(1);
      for (t = 0; t < 3; t++)
        if (null != t && t != fan && t != sv[1] && dup2(null, t) < 0)
          _exit(1);
      if (null > 2)
        close(null);
    }
    nslua_set_title("nslua-guard");
    (void)prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    self = (int)syscall(SYS_pidfd_open, getpid(), 0);
    if (self < 0 || nslua_sendfd(sv[1], self) != 0)
      _exit(1);
    close(self);
    guard_answerer(fan, sv[1]);
  }
  err = errno;
  close(sv[1]);
  if (mid < 0) {
    close(sv[0]);
    return nslua_fail(L, err, "fork", "the guard's answerer");
  }
  while (waitpid(mid, &st, 0) < 0 && errno == EINTR)
    ;
  *sbox = sv[0];
  if ((*pbox = nslua_recvfd(sv[0])) < 0)
    return nslua_fail(L, errno, "recvmsg", "the guard's answerer");
  return 2;
}

/*
** mount.guard_group() -> fd | nil, msg, errno
** A fanotify group of permission events (FAN_CLASS_CONTENT, thread ids,
** no limit on its queue or marks, non-blocking, close-on-exec) for the
** set-id guard's watch.  Host root.
*/
static int mnt_guard_group (lua_State *L) {
  int *box = nslua_newfd(L);
  /* unlimited: a full queue lets a permission event through unasked, and
  ** the answers' ignore marks must not use up root's marks on the host */
  int fd = fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_TID |
                         FAN_UNLIMITED_QUEUE | FAN_UNLIMITED_MARKS,
                         O_RDONLY | O_LARGEFILE | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    return nslua_fail(L, errno, "fanotify_init", "permission events");
  *box = fd;
  return 1;
}

/*
** mount.guard_mark(group, pid, mountpoint, mnt_id) -> true | false | nil, msg, errno
** Watches opens on the mount at 'mountpoint' of process 'pid' (its path
** as /proc/<pid>/mountinfo shows it, under that process's root), when
** that path still leads to mount 'mnt_id'; false when it leads to another
** (a mount stacked over it hides it).  No symlink is followed.
*/
static int mnt_guard_mark (lua_State *L) {
  int group = nslua_checkfd(L, 1);
  lua_Integer pid = luaL_checkinteger(L, 2);
  const char *mp = luaL_checkstring(L, 3);
  lua_Integer id = luaL_checkinteger(L, 4);
  char path[64];
  struct open_how how;
  struct statx sx;
  int root, fd, err;
  luaL_argcheck(L, pid > 0 && pid <= 0x7fffffff, 2, "not a pid");
  luaL_argcheck(L, mp[0] == '/', 3, "not an absolute path");
  snprintf(path, sizeof path, "/proc/%d/root", (int)pid);
  if ((root = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
    return nslua_fail(L, errno, "open", path);
  memset(&how, 0, sizeof how);
  how.flags = O_PATH | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  fd = (int)syscall(SYS_openat2, root, mp[1] != '\0' ? mp + 1 : ".", &how, sizeof how);
  err = errno;
  close(root);
  if (fd < 0)
    return nslua_fail(L, err, "open", mp);
  if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &sx) != 0 || !(sx.stx_mask & STATX_MNT_ID)) {
    err = errno;
    close(fd);
    return nslua_fail(L, err != 0 ? err : ENOSYS, "statx", mp);
  }
  if ((lua_Integer)sx.stx_mnt_id != id) {
    close(fd);
    lua_pushboolean(L, 0);
    return 1;
  }
  /* through the magic link: an O_PATH fd is not a file fanotify_mark takes */
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  if (fanotify_mark(group, FAN_MARK_ADD | FAN_MARK_MOUNT, FAN_OPEN_PERM, AT_FDCWD, path) != 0) {
    err = errno;
    close(fd);
    return nslua_fail(L, err, "fanotify_mark", mp);
  }
  close(fd);
  return nslua_ok(L);
}

const luaL_Reg nslua_guard_funcs[] = {
  {"guard_answerer", mnt_guard_answerer},
  {"guard_group", mnt_guard_group},
  {"guard_mark", mnt_guard_mark},
  {NULL, NULL}
};
