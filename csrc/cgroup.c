/* cgroup.c - cgroup files: open, read, write, mkdir, rmdir, list, kill members, wait;
** the kick and the keeper (cheap joins). */
/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <sched.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <linux/sched.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/bpf.h>

#include "nslua.h"

/* cgroup files are small; larger ones (cgroup.procs) are read in a loop. */
#define CG_READ_MAX 16384
#define CG_POLL_NS (2 * 1000 * 1000)

static const char *checkpath (lua_State *L, int arg) {
  size_t len;
  const char *path = luaL_checklstring(L, arg, &len);
  luaL_argcheck(L, len > 0 && strlen(path) == len, arg,
                "path must be a non-empty string without NUL bytes");
  return path;
}

/* An optional wait in seconds (0..60) as a deadline on CLOCK_MONOTONIC. */
static double optwait (lua_State *L, int arg) {
  lua_Number s = luaL_optnumber(L, arg, 0);
  luaL_argcheck(L, s >= 0 && s <= 60, arg, "wait must be 0..60 seconds");
  return (double)s;
}

static double now (void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void pause_poll (void) {
  struct timespec ts = {0, CG_POLL_NS};
  (void)nanosleep(&ts, NULL);
}

/* Read the whole file into buf (NUL-terminated); -1 with errno on failure,
** EFBIG when it does not fit. */
static ssize_t read_small (const char *path, char *buf, size_t size) {
  size_t len = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  for (;;) {
    ssize_t n = read(fd, buf + len, size - 1 - len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int err = errno;
      close(fd);
      errno = err;
      return -1;
    }
    if (n == 0)
      break;
    len += (size_t)n;
    if (len == size - 1) {
      close(fd);
      errno = EFBIG;
      return -1;
    }
  }
  close(fd);
  buf[len] = '\0';
  return (ssize_t)len;
}

static const char *const open_modes[] = {"r", "w", "dir", NULL};
static const int open_flags[] = {
  O_RDONLY, O_WRONLY,
  /* clone3's CLONE_INTO_CGROUP takes a directory fd (Linux 5.7) */
  O_RDONLY | O_DIRECTORY,
};

/* cgroup.open(path, "r"|"w"|"dir") -> fd | nil, msg, errno */
static int cg_open (lua_State *L) {
  const char *path = checkpath(L, 1);
  int mode = luaL_checkoption(L, 2, NULL, open_modes);
  int *box = nslua_newfd(L);
  int fd = open(path, open_flags[mode] | O_CLOEXEC);
  if (fd < 0)
    return nslua_fail(L, errno, "open", path);
  *box = fd;
  return 1;
}

/* cgroup.read(path) -> string | nil, msg, errno   (at most 16 KiB) */
static int cg_read (lua_State *L) {
  const char *path = checkpath(L, 1);
  char buf[CG_READ_MAX];
  ssize_t n = read_small(path, buf, sizeof buf);
  if (n < 0)
    return nslua_fail(L, errno, "read", path);
  lua_pushlstring(L, buf, (size_t)n);
  return 1;
}

/*
** cgroup.write(path | fd, data) -> true | nil, msg, errno
** One write(2): a cgroup file takes each value in a single write, and its
** errno is the answer (EBUSY, EINVAL, ...).  An fd (box or integer) is
** written as is, which is what the exec tail does with cgroup.procs.
*/
static int cg_write (lua_State *L) {
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  const char *path = NULL;
  char fdname[32];
  ssize_t n;
  int fd, err;
  if (lua_type(L, 1) == LUA_TSTRING) {
    path = checkpath(L, 1);
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
      return nslua_fail(L, errno, "write", path);
  } else {
    fd = nslua_checkfd(L, 1);
  }
  do
    n = write(fd, data, len);
  while (n < 0 && errno == EINTR);
  err = n < 0 ? errno : EIO;
  if (path != NULL)
    close(fd);
  if (n == (ssize_t)len)
    return nslua_ok(L);
  if (path == NULL) {
    snprintf(fdname, sizeof fdname, "fd %d", fd);
    path = fdname;
  }
  return nslua_fail(L, err, "write", path);
}

/* cgroup.mkdir(path [, mode = 0755]) -> true | nil, msg, errno */
static int cg_mkdir (lua_State *L) {
  const char *path = checkpath(L, 1);
  lua_Integer mode = luaL_optinteger(L, 2, 0755);
  luaL_argcheck(L, mode >= 0 && mode <= 07777, 2, "mode out of range");
  if (mkdir(path, (mode_t)mode) != 0)
    return nslua_fail(L, errno, "mkdir", path);
  return nslua_ok(L);
}

/*
** cgroup.rmdir(path [, wait_s = 0]) -> true | nil, msg, errno
** Retries EBUSY every 2 ms for up to wait_s: a group stays busy for a moment
** after its last member exits.
*/
static int cg_rmdir (lua_State *L) {
  const char *path = checkpath(L, 1);
  double deadline = now() + optwait(L, 2);
  while (rmdir(path) != 0) {
    int err = errno;
    if (err != EBUSY || now() >= deadline)
      return nslua_fail(L, err, "rmdir", path);
    pause_poll();
  }
  return nslua_ok(L);
}

/*
** cgroup.subdirs(path) -> { name, ... } | nil, msg, errno
** The subdirectories of a cgroup directory (child groups), unsorted.  The
** directory fd lives in a box, so a memory error while pushing names
** cannot leak it.
*/
static int cg_subdirs (lua_State *L) {
  const char *path = checkpath(L, 1);
  char buf[8192];
  int n = 0;
  int *box = nslua_newfd(L);
  *box = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (*box < 0)
    return nslua_fail(L, errno, "subdirs", path);
  lua_newtable(L);
  for (;;) {
    ssize_t len = getdents64(*box, buf, sizeof buf);
    ssize_t off = 0;
    if (len < 0) {
      int err = errno;
      close(*box);
      *box = -1;
      return nslua_fail(L, err, "subdirs", path);
    }
    if (len == 0)
      break;
    while (off < len) {
      struct dirent64 *d = (struct dirent64 *)(buf + off);
      off += d->d_reclen;
      if (d->d_type != DT_DIR || strcmp(d->d_name, ".") == 0 ||
          strcmp(d->d_name, "..") == 0)
        continue;
      lua_pushstring(L, d->d_name);
      lua_rawseti(L, -2, ++n);
    }
  }
  close(*box);
  *box = -1;
  return 1;
}

/*
** One pass over dir/cgroup.procs: SIGKILL every pid listed except our own.
** *found counts the pids seen; returns 0, or an errno.
*/
static int kill_pass (const char *procs, int *found) {
  char buf[4096];
  long pid = 0;
  int in_num = 0, err = 0;
  pid_t self = getpid();
  int fd = open(procs, O_RDONLY | O_CLOEXEC);
  *found = 0;
  if (fd < 0)
    return errno;
  for (;;) {
    ssize_t i, n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      err = errno;
      break;
    }
    /* a final pass with n == 0 flushes a number at the end of the file */
    for (i = 0; i <= n; i++) {
      char c = i < n ? buf[i] : '\n';
      if (c >= '0' && c <= '9') {
        if (pid < 0x7fffffffL)
          pid = pid * 10 + (c - '0');
        in_num = 1;
        continue;
      }
      if (in_num && pid > 0 && pid != self) {
        (*found)++;
        if (kill((pid_t)pid, SIGKILL) != 0 && errno != ESRCH && err == 0)
          err = errno;
      }
      pid = 0;
      in_num = 0;
    }
    if (n == 0)
      break;
  }
  close(fd);
  return err;
}

/*
** cgroup.kill_procs(dir [, wait_s = 0]) -> n | nil, msg, errno
** SIGKILLs every process listed in dir/cgroup.procs (never the caller).
** With wait_s > 0 it repeats until the file lists none, or fails with EBUSY
** after wait_s: a member may fork between the read and the kill.  With 0,
** one pass (frozen members die only when thawed).  n is the number of
** members the first pass found.  Members leave cgroup.procs when they exit,
** before they are reaped.
*/
static int cg_kill_procs (lua_State *L) {
  const char *dir = checkpath(L, 1);
  double wait = optwait(L, 2);
  double deadline = now() + wait;
  char procs[4096];
  lua_Integer first = -1;
  if ((size_t)snprintf(procs, sizeof procs, "%s/cgroup.procs", dir) >= sizeof procs)
    return nslua_fail(L, ENAMETOOLONG, "kill_procs", dir);
  for (;;) {
    int found;
    int err = kill_pass(procs, &found);
    if (err != 0)
      return nslua_fail(L, err, "kill_procs", dir);
    if (first < 0)
      first = found;
    if (found == 0 || wait <= 0)
      break;
    if (now() >= deadline)
      return nslua_fail(L, EBUSY, "kill_procs", dir);
    pause_poll();
  }
  lua_pushinteger(L, first);
  return 1;
}

/* Does text hold 'line' as a whole line? */
static int has_line (const char *text, const char *line, size_t len) {
  const char *p = text;
  while ((p = strstr(p, line)) != NULL) {
    if ((p == text || p[-1] == '\n') && (p[len] == '\n' || p[len] == '\0'))
      return 1;
    p += len;
  }
  return 0;
}

/*
** cgroup.wait(path, line [, wait_s = 1]) -> true | nil, msg, errno
** Polls a small file every 2 ms until one of its lines equals 'line'
** ("frozen 1" in cgroup.events, "FROZEN" in freezer.state); ETIMEDOUT after
** wait_s.
*/
static int cg_wait (lua_State *L) {
  const char *path = checkpath(L, 1);
  size_t len;
  const char *line = luaL_checklstring(L, 2, &len);
  double deadline;
  char buf[CG_READ_MAX];
  luaL_argcheck(L, len > 0 && strlen(line) == len && strchr(line, '\n') == NULL,
                2, "line must be a non-empty single line");
  deadline = now() + (lua_isnoneornil(L, 3) ? 1.0 : optwait(L, 3));
  for (;;) {
    if (read_small(path, buf, sizeof buf) < 0)
      return nslua_fail(L, errno, "wait", path);
    if (has_line(buf, line, len))
      return nslua_ok(L);
    if (now() >= deadline)
      return nslua_fail(L, ETIMEDOUT, "wait", path);
    pause_poll();
  }
}

/*
** cgroup.kick(procs) -> pid | nil, msg, errno
** Start the kernel's slow part of a cgroup migration now, off the caller's
** critical path.  Every write to a cgroup.procs (v1 or v2) takes the
** kernel's cgroup_threadgroup_rwsem for writing, and unless some migration
** on the machine took it in the last few tens of ms, that first waits for
** an RCU grace period (~10 ms, docs/bench.md).  A child we fork writes "0"
** (itself) into 'procs', the cgroup.procs of a group it is already in: no
** migration, but the grace period starts, and a real join made while it
** runs or soon after it (the command's, in its exec tail) waits only for
** what is left of it.  The file is opened here (a path we cannot open
** fails here); the child writes and exits.  Its pid is ours to reap;
** cgroup.kick reaps the earlier ones it can (WNOHANG), so at most a few
** wait as zombies, and exit(3) waits for any still running.
*/
#define KICK_SLOTS 8
#define KICK_STACK (16 * 1024)

/* The stack of a helper that shares our memory: NULL (errno) or 'size'
** bytes to munmap once it is reaped. */
static char *helper_stack (size_t size) {
  char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

/* A kick under way: its pid, the file it writes (ours; the child writes
** its own copy) and its stack (in our memory: freed once it is reaped). */
typedef struct kick_slot {
  pid_t pid, owner;             /* owner: the process that started it */
  int fd;
  char *stack;
} kick_slot;
static kick_slot kicks[KICK_SLOTS];

/* A slot of ours is freed; one a forked child inherited is only forgotten:
** the fd number and the memory are the child's own by now. */
static void kick_free (kick_slot *k) {
  if (k->owner == getpid()) {
    if (k->fd >= 0)
      close(k->fd);
    if (k->stack != NULL)
      munmap(k->stack, KICK_STACK);
  }
  k->pid = k->owner = 0;
  k->fd = -1;
  k->stack = NULL;
}

/* Bumped in every child that goes on running Lua (nslua_kick_forget): a
** keeper (cgroup.keeper) made before is its parent's, even when both are
** pid 1 of their pid namespaces. */
static unsigned long helpers_gen;

/* In a child forked to go on running Lua (ns.clone, ns.clone3): the
** slots are the parent's.  Forgotten, never closed or waited for: the fd
** numbers may be the child's own files by now, and in a new pid namespace
** even the owner check below could match (both are pid 1). */
void nslua_kick_forget (void) {
  size_t i;
  helpers_gen++;
  for (i = 0; i < KICK_SLOTS; i++) {
    kicks[i].owner = 0;         /* no pid's: kick_free closes nothing */
    if (kicks[i].pid > 0)
      kick_free(&kicks[i]);
  }
}

/* Reap what has ended ('block': wait for every one, at exit). */
static void kick_reap (int block) {
  size_t i;
  for (i = 0; i < KICK_SLOTS; i++) {
    int st;
    pid_t r;
    if (kicks[i].pid <= 0)
      continue;
    if (kicks[i].owner != getpid()) {
      kick_free(&kicks[i]);
      continue;
    }
    while ((r = waitpid(kicks[i].pid, &st, block ? 0 : WNOHANG)) < 0 && errno == EINTR)
      ;
    if (r != 0)                   /* reaped, or not ours to wait for */
      kick_free(&kicks[i]);
  }
}

/* At exit: a kick still running is waited for (at most its grace
** period), so no process of ours outlives us (a command that fails at
** once would leave one to its caller's reaper). */
static void kick_wait_all (void) {
  kick_reap(1);
}

#if !defined(NSLUA_ASAN) && (defined(__x86_64__) || defined(__aarch64__))
/*
** The child shares our memory and C library state (CLONE_VM: no page
** tables to copy, no copy-on-write faults for either side while it waits).
** So it runs no C library code at all: a failed call would set errno in
** our thread-local storage.  System calls made by hand, on its own stack,
** with every signal blocked (so none of our handlers runs in it).  Its fd
** table is a copy, of which it first closes all but its file: no pipe,
** lock or socket of ours stays open in it (a shared table would keep them
** all open after our death, for as long as its write waits).  While
** it runs (one grace period) the kernel counts it as a user of our
** memory: setns(2) of a time namespace, which needs a process that shares
** its memory with no other, fails with EUSERS meanwhile (nslua joins time
** namespaces only in forked helpers).
*/
static long raw_call3 (long n, long a, long b, long c) {
#if defined(__x86_64__)
  long ret;
  __asm__ volatile ("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c)
                    : "rcx", "r11", "memory");
  return ret;
#else
  register long x8 __asm__("x8") = n;
  register long x0 __asm__("x0") = a;
  register long x1 __asm__("x1") = b;
  register long x2 __asm__("x2") = c;
  __asm__ volatile ("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
  return x0;
#endif
}

static int kick_child (void *arg) {
  const kick_slot *k = (const kick_slot *)arg;
  if (k->fd > 0)
    (void)raw_call3(SYS_close_range, 0, k->fd - 1, 0);
  (void)raw_call3(SYS_close_range, k->fd + 1, ~0U, 0);
  (void)raw_call3(SYS_write, k->fd, (long)"0", 1);
  (void)raw_call3(SYS_exit, 0, 0, 0);
  return 0;
}

static pid_t kick_start (kick_slot *k) {
  sigset_t all, old;
  pid_t pid;
  int err;
  k->stack = helper_stack(KICK_STACK);
  if (k->stack == NULL)
    return -1;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, &old);
  pid = clone(kick_child, k->stack + KICK_STACK, CLONE_VM | SIGCHLD, k);
  err = errno;
  sigprocmask(SIG_SETMASK, &old, NULL);
  errno = err;
  return pid;
}
#else
/* Elsewhere (and under the sanitizers): a forked child, which keeps only
** the file and makes raw calls only. */
static pid_t kick_start (kick_slot *k) {
  pid_t pid = (pid_t)syscall(SYS_clone, SIGCHLD, NULL, NULL, NULL, NULL);
  if (pid == 0) {
    if (dup2(k->fd, 0) < 0)
      _exit(1);
    (void)syscall(SYS_close_range, 1U, ~0U, 0U);
    _exit(write(0, "0", 1) == 1 ? 0 : 1);
  }
  return pid;
}
#endif

static int cg_kick (lua_State *L) {
  const char *path = checkpath(L, 1);
  static int ready, at_exit;
  kick_slot *k = NULL;
  size_t i;
  int err;
  pid_t pid;
  if (!ready) {
    for (i = 0; i < KICK_SLOTS; i++)
      kicks[i].fd = -1;
    ready = 1;
  }
  if (!at_exit)
    at_exit = atexit(kick_wait_all) == 0;
  kick_reap(0);
  for (i = 0; i < KICK_SLOTS && k == NULL; i++)
    if (kicks[i].pid == 0)
      k = &kicks[i];
  if (k == NULL)
    return nslua_fail(L, EAGAIN, "kick", "every earlier kick still runs");
  k->owner = getpid();
  k->fd = open(path, O_WRONLY | O_CLOEXEC);
  if (k->fd < 0) {
    err = errno;
    kick_free(k);
    return nslua_fail(L, err, "open", path);
  }
  pid = kick_start(k);
  if (pid < 0) {
    err = errno;
    kick_free(k);
    return nslua_fail(L, err, "clone", "kick");
  }
  k->pid = pid;
  lua_pushinteger(L, pid);
  return 1;
}

/*
** cgroup.keeper(procs, period, idle) -> keeper | nil, msg, errno
** Keep cgroup joins cheap while a pool is in use: the grace period a join
** waits for (cgroup.kick above) is skipped when another migration ran in
** the last grace period or two, so a child that writes "0" into 'procs'
** (the cgroup.procs of its own group: no migration) every 'period'
** seconds keeps every join on the machine from waiting.  That is what
** mounting a hierarchy with favordynmods does for good, with its cost
** (forks and exits everywhere take the slower path of the kernel's
** cgroup_threadgroup_rwsem), but only for as long as the keeper writes:
** while a run is under way (keeper:busy(true)) and for 'idle' seconds
** after the last one ended (keeper:busy(false)); then it sleeps until the
** next busy(true), which it answers with a write at once (a kick).
**
** The child is made like a kick (raw calls on a stack of its own, sharing
** our memory where that is safe, so a large Lua heap is neither copied
** nor faulted on; a fork elsewhere) and keeps only three fds: the file,
** its end of a socket pair with us and, until it is ready, a pipe.  Every
** signal stays blocked in it (a ^C to our process group is ours to
** handle); it ends at EOF on the socket (keeper:close, or our exit) and
** with us (PR_SET_PDEATHSIG).  keeper:close kills it through a pidfd and
** reaps it; a keeper that died before is not an error: busy() says false
** and the caller goes on without it.  The kernel counts a memory-sharing
** keeper as a user of our memory, as it does a kick: setns(2) of a time
** namespace fails with EUSERS meanwhile (nslua joins those in forked
** helpers only).
*/
#define NSLUA_KEEPER "nslua.cgroup.keeper"
#define KEEPER_STACK (32 * 1024)

/* What the child reads, at the bottom of its own stack (ours to free
** once it is reaped, never touched by us before). */
typedef struct keeper_arg {
  int procs, sock, ready;       /* our fd numbers; the child's copies */
  int period_ms, idle_ms;
  unsigned int fd_max;          /* for closing one by one without close_range */
  pid_t parent;
} keeper_arg;

typedef struct keeper {
  int pidfd, sock;
  pid_t pid, owner;
  unsigned long gen;            /* helpers_gen when it was made */
  char *stack;
} keeper;

#if !defined(NSLUA_ASAN) && (defined(__x86_64__) || defined(__aarch64__))
#define KEEPER_SHARES_MEMORY 1
/* -errno on failure, as the kernel returns it */
#define KCALL(n, a, b, c) raw_call3((n), (long)(a), (long)(b), (long)(c))
#else
#define KEEPER_SHARES_MEMORY 0
static long kcall (long n, long a, long b, long c) {
  long r = syscall(n, a, b, c);
  return r < 0 ? -errno : r;
}
#define KCALL(n, a, b, c) kcall((n), (long)(a), (long)(b), (long)(c))
#endif

static long long keeper_ms (void) {
  struct timespec ts;
  ts.tv_sec = 0;                /* (assigned: no memset call in the child) */
  ts.tv_nsec = 0;
  (void)KCALL(SYS_clock_gettime, CLOCK_MONOTONIC, &ts, 0);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void __attribute__((noreturn)) keeper_exit (int code) {
  for (;;)
    (void)KCALL(SYS_exit, code, 0, 0);
}

/* Only system calls from here (see kick_child): fd 0 the file, 1 the
** socket, 2 the ready pipe until it is closed. */
static int keeper_child (void *p) {
  static const char name[] = "nslua-keeper";
  const keeper_arg *a = (const keeper_arg *)p;
  struct timespec nap;
  long long last_end;
  int busy = 0, nonblock = -1;
  long a0 = KCALL(SYS_fcntl, a->procs, F_DUPFD, 10);
  long a1 = KCALL(SYS_fcntl, a->sock, F_DUPFD, 10);
  long a2 = KCALL(SYS_fcntl, a->ready, F_DUPFD, 10);
  unsigned int fd;
  if (a0 < 0 || a1 < 0 || a2 < 0 || KCALL(SYS_dup3, a0, 0, 0) < 0 ||
      KCALL(SYS_dup3, a1, 1, 0) < 0 || KCALL(SYS_dup3, a2, 2, 0) < 0)
    keeper_exit(1);
  if (KCALL(SYS_close_range, 3, ~0U, 0) < 0)
    for (fd = 3; fd < a->fd_max; fd++)
      (void)KCALL(SYS_close, fd, 0, 0);
  if (KCALL(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0) < 0 ||
      KCALL(SYS_getppid, 0, 0, 0) != a->parent)
    keeper_exit(1);
  (void)KCALL(SYS_prctl, PR_SET_NAME, name, 0);
  if (KCALL(SYS_write, 2, "k", 1) != 1)
    keeper_exit(1);
  (void)KCALL(SYS_close, 2, 0, 0);
  nap.tv_sec = a->period_ms / 1000;
  nap.tv_nsec = (long)(a->period_ms % 1000) * 1000000;
  last_end = keeper_ms();
  for (;;) {
    char buf[64];
    long i, n;
    int warm = busy || keeper_ms() - last_end < a->idle_ms;
    /* warm: a nap, then what came; cold: wait for what comes */
    if (warm != nonblock) {
      if (KCALL(SYS_fcntl, 1, F_SETFL, warm ? O_NONBLOCK : 0) < 0)
        keeper_exit(1);
      nonblock = warm;
    }
    if (warm)
      (void)KCALL(SYS_nanosleep, &nap, 0, 0);
    n = KCALL(SYS_read, 1, buf, sizeof buf);
    if (n == 0)
      keeper_exit(0);                 /* our owner closed its end */
    if (n < 0 && n != -EAGAIN && n != -EINTR)
      keeper_exit(1);
    for (i = 0; i < n; i++) {
      busy = buf[i] == '1';
      if (!busy)
        last_end = keeper_ms();
    }
    if (busy || keeper_ms() - last_end < a->idle_ms)
      (void)KCALL(SYS_write, 0, "0", 1);
  }
}

/* Kill (when ours) and reap it, close our fds, free its stack. */
static void keeper_end (keeper *k) {
  int ours = k->owner == getpid() && k->gen == helpers_gen;
  if (k->sock >= 0)
    close(k->sock);
  if (k->pidfd >= 0) {
    /* (a pidfd signal succeeds until the keeper is reaped: only then is
    ** its pid still its own to wait for; one reaped elsewhere is left) */
    if (ours && syscall(SYS_pidfd_send_signal, k->pidfd, SIGKILL, NULL, 0) == 0)
      while (waitpid(k->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    close(k->pidfd);
  }
  /* (a child's copy: the memory is its own copy, and nobody runs on it) */
  if (k->stack != NULL && (ours || !KEEPER_SHARES_MEMORY))
    munmap(k->stack, KEEPER_STACK);
  k->sock = k->pidfd = -1;
  k->pid = 0;
  k->stack = NULL;
}

static int keeper_spawn (keeper *k, int procs, int period_ms, int idle_ms) {
  int sv[2], rp[2], err = 0;
  keeper_arg *a;
  sigset_t all, old;
  struct rlimit rl;
  char got[2];
  ssize_t n;
  pid_t pid;
  k->owner = getpid();          /* ours from here: keeper_end frees the stack */
  k->gen = helpers_gen;
  k->stack = helper_stack(KEEPER_STACK);
  if (k->stack == NULL)
    return errno;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    return errno;
  if (pipe2(rp, O_CLOEXEC) < 0) {
    err = errno;
    close(sv[0]);
    close(sv[1]);
    return err;
  }
  a = (keeper_arg *)k->stack;
  a->procs = procs;
  a->sock = sv[1];
  a->ready = rp[1];
  a->period_ms = period_ms;
  a->idle_ms = idle_ms;
  a->fd_max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536 ? (unsigned int)rl.rlim_cur : 65536;
  a->parent = k->owner;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, &old);
#if KEEPER_SHARES_MEMORY
  pid = clone(keeper_child, k->stack + KEEPER_STACK, CLONE_VM | CLONE_PIDFD | SIGCHLD, a, &k->pidfd);
  if (pid < 0)
    err = errno;
#else
  {
    struct clone_args ca;
    memset(&ca, 0, sizeof ca);
    ca.flags = CLONE_PIDFD;
    ca.pidfd = (uint64_t)(uintptr_t)&k->pidfd;
    ca.exit_signal = SIGCHLD;
    pid = (pid_t)syscall(SYS_clone3, &ca, sizeof ca);
    if (pid == 0)
      keeper_exit(keeper_child(a));
    if (pid < 0)
      err = errno;
  }
#endif
  sigprocmask(SIG_SETMASK, &old, NULL);
  close(sv[1]);
  close(rp[1]);
  if (pid < 0) {
    close(sv[0]);
    close(rp[0]);
    k->pidfd = -1;
    return err;
  }
  k->pid = pid;
  k->sock = sv[0];
  /* ready: "k", then end of file once it holds only its own fds */
  {
    size_t have = 0;
    do {
      n = read(rp[0], got + have, sizeof got - have);
      if (n > 0)
        have += (size_t)n;
    } while ((n < 0 && errno == EINTR) || (n > 0 && have < sizeof got));
    close(rp[0]);
    if (n != 0 || have != 1 || got[0] != 'k') {
      keeper_end(k);
      return ECHILD;
    }
  }
  return 0;
}

static int cg_keeper (lua_State *L) {
  const char *path = checkpath(L, 1);
  lua_Number period = luaL_checknumber(L, 2), idle = luaL_checknumber(L, 3);
  keeper *k;
  int fd, err;
  luaL_argcheck(L, period >= 0.001 && period <= 1, 2, "period must be 0.001..1 seconds");
  luaL_argcheck(L, idle >= 0 && idle <= 3600, 3, "idle must be 0..3600 seconds");
  k = (keeper *)lua_newuserdatauv(L, sizeof *k, 0);
  k->pidfd = k->sock = -1;
  k->pid = k->owner = 0;
  k->gen = 0;
  k->stack = NULL;
  luaL_setmetatable(L, NSLUA_KEEPER);
  fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return nslua_fail(L, errno, "open", path);
  err = keeper_spawn(k, fd, (int)(period * 1000), (int)(idle * 1000));
  close(fd);
  if (err != 0) {
    keeper_end(k);
    return nslua_fail(L, err, "clone", "keeper");
  }
  return 1;
}

static keeper *checkkeeper (lua_State *L) {
  return (keeper *)luaL_checkudata(L, 1, NSLUA_KEEPER);
}

/* keeper:busy(flag) -> true | false: a run begins (true) or has ended
** (false).  Never blocks, never raises SIGPIPE: false when the keeper is
** gone (or closed). */
static int keeper_busy (lua_State *L) {
  keeper *k = checkkeeper(L);
  ssize_t n = -1;
  if (k->sock >= 0)
    n = send(k->sock, lua_toboolean(L, 2) ? "1" : "0", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
  lua_pushboolean(L, n == 1 || (n < 0 && (errno == EAGAIN || errno == EINTR)));
  return 1;
}

/* keeper:pid() -> pid | nil (closed) */
static int keeper_pid (lua_State *L) {
  keeper *k = checkkeeper(L);
  if (k->pid <= 0)
    return 0;
  lua_pushinteger(L, k->pid);
  return 1;
}

static int keeper_close (lua_State *L) {
  keeper_end(checkkeeper(L));
  return nslua_ok(L);
}

static int keeper_gc (lua_State *L) {
  keeper_end((keeper *)luaL_checkudata(L, 1, NSLUA_KEEPER));
  return 0;
}

static const luaL_Reg keeper_methods[] = {
  {"busy", keeper_busy},
  {"close", keeper_close},
  {"pid", keeper_pid},
  {NULL, NULL}
};

static const luaL_Reg keeper_meta[] = {
  {"__close", keeper_gc},
  {"__gc", keeper_gc},
  {"__index", NULL},
  {NULL, NULL}
};

/*
** The cgroup v2 device controller is a BPF program of type
** BPF_PROG_TYPE_CGROUP_DEVICE attached to the group (v1 has the devices.*
** files instead).  The rules are v1's, in order, the last that matches an
** access deciding it: the program tests them from the last to the first
** and returns at the first match, and an access no rule matches is denied
** (an OCI list starts with "deny all").  An allow matches an access it
** covers whole, a deny any access it touches, so O_RDWR is denied by
** "deny w" (v1 compares exception lists; docs/oci.md has the differences).
*/
#define DEVRULES_MAX 256   /* 8 instructions each at most; the verifier gives up past ~384 */
#define INSN(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), \
                                                 .off = (o), .imm = (i) })

typedef struct { int allow, type, access; long long major, minor; } devrule;

/* one rule: a test per field it names (type, access, major, minor), each
** a jump past the rule when it fails, then r0 = allow and exit */
static size_t devrule_insns (const devrule *r, struct bpf_insn *out) {
  struct bpf_insn tmp[8];
  size_t n = 0, i;
  /* r2 type, r3 access, r4 major, r5 minor (the prologue's) */
  if (r->type != 0)
    tmp[n++] = INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_2, 0, 0, r->type);
  if (r->access != 7) {
    /* an allow covers an access only whole (one with a bit the rule lacks
    ** is not this rule's); a deny takes any access it touches (O_RDWR
    ** against "deny w") */
    tmp[n++] = INSN(BPF_ALU | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_3, 0, 0);
    tmp[n++] = INSN(BPF_ALU | BPF_AND | BPF_K, BPF_REG_1, 0, 0, r->allow ? (~r->access & 7) : r->access);
    tmp[n++] = INSN(BPF_JMP | (r->allow ? BPF_JNE : BPF_JEQ) | BPF_K, BPF_REG_1, 0, 0, 0);
  }
  if (r->major >= 0)
    tmp[n++] = INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_4, 0, 0, (int32_t)r->major);
  if (r->minor >= 0)
    tmp[n++] = INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_5, 0, 0, (int32_t)r->minor);
  tmp[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, r->allow ? 1 : 0);
  tmp[n++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
  /* each failing test jumps to the first instruction after the exit */
  for (i = 0; i < n; i++)
    if (BPF_CLASS(tmp[i].code) == BPF_JMP && (BPF_OP(tmp[i].code) == BPF_JNE || BPF_OP(tmp[i].code) == BPF_JEQ))
      tmp[i].off = (int16_t)(n - i - 1);
  memcpy(out, tmp, n * sizeof *tmp);
  return n;
}

static void devrule_check (lua_State *L, int t, devrule *r) {
  const char *type, *access;
  r->allow = (lua_getfield(L, t, "allow"), lua_toboolean(L, -1));
  lua_getfield(L, t, "type");
  type = luaL_optstring(L, -1, "a");
  luaL_argcheck(L, type[0] != '\0' && type[1] == '\0' && strchr("abc", type[0]), 2,
                "a device rule's type is a, b or c");
  r->type = type[0] == 'b' ? BPF_DEVCG_DEV_BLOCK : type[0] == 'c' ? BPF_DEVCG_DEV_CHAR : 0;
  lua_getfield(L, t, "access");
  access = luaL_optstring(L, -1, "rwm");
  r->access = 0;
  for (; *access != '\0'; access++) {
    luaL_argcheck(L, strchr("rwm", *access) != NULL, 2, "a device rule's access is of r, w and m");
    r->access |= *access == 'r' ? BPF_DEVCG_ACC_READ : *access == 'w' ? BPF_DEVCG_ACC_WRITE
                                                                        : BPF_DEVCG_ACC_MKNOD;
  }
  lua_getfield(L, t, "major");
  r->major = luaL_optinteger(L, -1, -1);
  lua_getfield(L, t, "minor");
  r->minor = luaL_optinteger(L, -1, -1);
  luaL_argcheck(L, r->major >= -1 && r->major <= 0x7fffffff && r->minor >= -1 && r->minor <= 0x7fffffff,
                2, "a device number is -1 (any) or 0..2^31-1");
  lua_pop(L, 5);
}

/*
** cgroup.device_filter(dir, rules) -> true | nil, msg, errno
** Attach a device program to the v2 group at path 'dir' (BPF_F_ALLOW_MULTI:
** with any other program there, an access must pass every one).  rules:
** { {allow = bool, type = "a"|"b"|"c", major = N|-1, minor = N|-1,
** access = "rwm"}, ... } in v1's order.  The group keeps the program.
*/
static int cg_device_filter (lua_State *L) {
  const char *dir = luaL_checkstring(L, 1);
  size_t n, i, len = 0;
  struct bpf_insn *insns;
  union bpf_attr attr;
  int prog, dfd, err;
  luaL_checktype(L, 2, LUA_TTABLE);
  n = (size_t)luaL_len(L, 2);
  luaL_argcheck(L, n <= DEVRULES_MAX, 2, "too many device rules (at most 256)");
  insns = lua_newuserdatauv(L, (n * 8 + 8) * sizeof *insns, 0);
  /* prologue: r2 = type, r3 = access, r4 = major, r5 = minor */
  insns[len++] = INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_2, BPF_REG_1, 0, 0);
  insns[len++] = INSN(BPF_ALU | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xffff);
  insns[len++] = INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_3, BPF_REG_1, 0, 0);
  insns[len++] = INSN(BPF_ALU | BPF_RSH | BPF_K, BPF_REG_3, 0, 0, 16);
  insns[len++] = INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_4, BPF_REG_1, 4, 0);
  insns[len++] = INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_5, BPF_REG_1, 8, 0);
  /* (a rule that matches every access ends the program: the verifier
  ** refuses the unreachable rest, and the rules before it never decide) */
  for (i = n; i >= 1; i--) {
    devrule r;
    luaL_argcheck(L, lua_rawgeti(L, 2, (lua_Integer)i) == LUA_TTABLE, 2, "a device rule is a table");
    devrule_check(L, lua_gettop(L), &r);
    lua_pop(L, 1);
    len += devrule_insns(&r, insns + len);
    if (r.type == 0 && r.access == 7 && r.major < 0 && r.minor < 0)
      break;
  }
  if (i < 1) {
    insns[len++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0);
    insns[len++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
  }
  memset(&attr, 0, sizeof attr);
  attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  attr.insns = (uint64_t)(uintptr_t)insns;
  attr.insn_cnt = (uint32_t)len;
  attr.license = (uint64_t)(uintptr_t)"GPL";
  prog = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
  if (prog < 0)
    return nslua_fail(L, errno, "bpf", "BPF_PROG_LOAD (device filter)");
  dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) {
    err = errno;
    close(prog);
    return nslua_fail(L, err, "open", dir);
  }
  memset(&attr, 0, sizeof attr);
  attr.target_fd = (uint32_t)dfd;
  attr.attach_bpf_fd = (uint32_t)prog;
  attr.attach_type = BPF_CGROUP_DEVICE;
  attr.attach_flags = BPF_F_ALLOW_MULTI;
  err = syscall(SYS_bpf, BPF_PROG_ATTACH, &attr, sizeof attr) != 0 ? errno : 0;
  close(dfd);
  close(prog);
  if (err != 0)
    return nslua_fail(L, err, "bpf", "BPF_PROG_ATTACH (device filter)");
  return nslua_ok(L);
}

static const luaL_Reg cg_funcs[] = {
  {"device_filter", cg_device_filter},
  {"keeper", cg_keeper},
  {"kick", cg_kick},
  {"kill_procs", cg_kill_procs},
  {"mkdir", cg_mkdir},
  {"open", cg_open},
  {"read", cg_read},
  {"rmdir", cg_rmdir},
  {"subdirs", cg_subdirs},
  {"wait", cg_wait},
  {"write", cg_write},
  {NULL, NULL}
};

int nslua_open_cgroup (lua_State *L) {
  if (luaL_newmetatable(L, NSLUA_KEEPER)) {
    luaL_setfuncs(L, keeper_meta, 0);
    luaL_newlib(L, keeper_methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  luaL_newlib(L, cg_funcs);
  return 1;
}
