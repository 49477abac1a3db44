/* setup.c - the container's child, after clone and before the command: one C sequence. */
/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "nslua.h"

/*
** Why C: after clone the child shares every page of the Lua process
** copy-on-write, and each page the Lua VM writes costs a copy and a TLB
** shootdown.  setup.plan() reads the whole plan in the parent, before
** clone; setup.run() in the child then runs only this file's code:
** DESIGN's child steps 1-5 (sync, credentials, pdeathsig, session,
** hostname, lo, the mount plan, pivot, the command, the init) for every
** spec without child hooks, a tty, a veth plan or kept capabilities.
** Failures are "setup <step> <errno> <message>\n" on the status fd, the
** records of the Lua child (container.lua).
*/

#define NSLUA_SETUP "nslua.setup"
#define OLD_ROOT "/.oldroot"
#define NEW_ROOT "/newroot"

#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#define MOUNT_ATTR_NOSUID 0x00000002
#define MOUNT_ATTR_NODEV  0x00000004
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif

enum { OP_MOUNT, OP_ATTR, OP_MOVE, OP_MKDIR, OP_MKFILE, OP_SYMLINK, OP_CHMOD,
       OP_WRITE, OP_MASK, OP_RO };
static const char *const op_names[] = {
  "mount", "attr", "move", "mkdir", "mkfile", "symlink", "chmod", "write", "mask", "ro", NULL
};

typedef struct step {
  int op;
  const char *src, *path, *fstype, *data, *target, *what, *content;
  size_t len;
  unsigned long flags;          /* mount(2) flags */
  unsigned long long set;       /* mount_setattr attributes */
  int rec, fd;
  unsigned int mode;
} step;

/* Test-only stops, as NSLUA_TEST_STOP in container.lua. */
static const char *const stop_names[] = {
  "none", "ids", "uts", "net", "mounts", "pivot", "fork", NULL
};
enum { STOP_NONE, STOP_IDS, STOP_UTS, STOP_NET, STOP_MOUNTS, STOP_PIVOT, STOP_FORK };

typedef struct plan {
  int sync_fd, sync_close, status_fd;
  int ids, lo, strict, stop;
  const char *hostname;
  step *steps;
  size_t nsteps;
  int has_mounts;
  unsigned long long scaffold_size;
  exec_plan *exec;
  int stdio[3];
  int *keep;                    /* 2 scratch slots + keep_fds */
  size_t nkeep;
  char *scratch;                /* mkdir -p buffer, PATH_MAX, on the child's stack */
} plan;

/* ------------------------------------------------------------------ */
/* reading the plan (parent, before clone)                            */
/* ------------------------------------------------------------------ */

static int field (lua_State *L, int t, const char *name) {
  return lua_getfield(L, t, name);
}

/* An optional string field, anchored in the table it came from. */
static const char *opt_str (lua_State *L, int t, const char *name, const char *where) {
  const char *s = NULL;
  int ty = field(L, t, name);
  if (ty == LUA_TSTRING)
    s = lua_tostring(L, -1);
  else if (ty != LUA_TNIL)
    luaL_error(L, "setup.plan: %s.%s must be a string", where, name);
  lua_pop(L, 1);
  return s;
}

static int opt_flag (lua_State *L, int t, const char *name) {
  int v;
  field(L, t, name);
  v = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

static int opt_fd (lua_State *L, int t, const char *name, int def) {
  int fd = def;
  if (field(L, t, name) != LUA_TNIL)
    fd = nslua_checkfd(L, lua_gettop(L));
  lua_pop(L, 1);
  return fd;
}

static unsigned int opt_mode (lua_State *L, int t, const char *name, unsigned int def) {
  lua_Integer m = def;
  if (field(L, t, name) != LUA_TNIL) {
    m = luaL_checkinteger(L, -1);
    luaL_argcheck(L, m >= 0 && m <= 07777, 1, "a mode must be 0..07777");
  }
  lua_pop(L, 1);
  return (unsigned int)m;
}

static void read_step (lua_State *L, int t, step *s, size_t i) {
  char where[32];
  snprintf(where, sizeof where, "steps[%d]", (int)i + 1);
  field(L, t, "op");
  s->op = luaL_checkoption(L, -1, NULL, op_names);
  lua_pop(L, 1);
  s->src = opt_str(L, t, "src", where);
  s->path = opt_str(L, t, "path", where);
  s->fstype = opt_str(L, t, "fstype", where);
  s->data = opt_str(L, t, "data", where);
  s->target = opt_str(L, t, "target", where);
  s->what = opt_str(L, t, "what", where);
  if (s->path == NULL)
    luaL_error(L, "setup.plan: %s.path is missing", where);
  if (field(L, t, "flags") != LUA_TNIL)
    s->flags = nslua_checkflags(L, lua_gettop(L), nslua_mnt_flags);
  lua_pop(L, 1);
  if (field(L, t, "set") != LUA_TNIL)
    s->set = nslua_checkflags(L, lua_gettop(L), nslua_mnt_attr_flags);
  lua_pop(L, 1);
  s->rec = opt_flag(L, t, "rec");
  s->fd = opt_fd(L, t, "tree", -1);
  s->mode = opt_mode(L, t, "mode", s->op == OP_WRITE ? 0644 : 0755);
  if (field(L, t, "content") == LUA_TSTRING)
    s->content = lua_tolstring(L, -1, &s->len);
  lua_pop(L, 1);
  if ((s->op == OP_SYMLINK && s->target == NULL) || (s->op == OP_MOVE && s->fd < 0) ||
      (s->op == OP_WRITE && s->content == NULL))
    luaL_error(L, "setup.plan: %s (%s) lacks its argument", where, op_names[s->op]);
}

/*
** setup.plan(t) -> plan (userdata).  t: sync_fd, sync_close, status_fd,
** ids (switch to 0/0 with no groups: the slot mode), hostname, lo,
** steps (rootfs.plan's list) with scaffold_size and strict, argv, env,
** exec (proc.exec's opts), stdio {[0]=, [1]=, [2]=}, keep_fds {...},
** stop (a test-only step name).  Everything is read and checked here; t
** keeps what the plan points into alive.
*/
static int setup_plan (lua_State *L) {
  plan *p;
  size_t i, n = 0;
  int top, k, t = 4, anchors = 6, nanchor = 0;
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  lua_getfield(L, 1, "argv");
  if (lua_getfield(L, 1, "env") == LUA_TNIL) {
    lua_pop(L, 1);
    lua_newtable(L);
  }
  if (lua_getfield(L, 1, "exec") == LUA_TNIL) {
    lua_pop(L, 1);
    lua_newtable(L);
  }
  lua_rotate(L, 1, -1);         /* argv, env, exec opts at 1..3 (the exec tail's), t at 4 */
  luaL_argcheck(L, lua_istable(L, 1), 1, "field 'argv' must be a table");
  luaL_argcheck(L, lua_istable(L, 2), 1, "field 'env' must be a table");
  luaL_argcheck(L, lua_istable(L, 3), 1, "field 'exec' must be a table");
  p = (plan *)lua_newuserdatauv(L, sizeof *p, 1);                  /* 5 */
  memset(p, 0, sizeof *p);
  luaL_setmetatable(L, NSLUA_SETUP);
  lua_newtable(L);                                                  /* 6: what p points into */
  lua_pushvalue(L, anchors);
  lua_setiuservalue(L, 5, 1);
  for (k = 1; k <= 4; k++) {
    lua_pushvalue(L, k);
    lua_rawseti(L, anchors, ++nanchor);
  }

  p->sync_fd = opt_fd(L, t, "sync_fd", -1);
  p->sync_close = opt_fd(L, t, "sync_close", -1);
  p->status_fd = opt_fd(L, t, "status_fd", -1);
  luaL_argcheck(L, p->sync_fd >= 0 && p->status_fd >= 0, 1, "sync_fd and status_fd are required");
  p->ids = opt_flag(L, t, "ids");
  p->lo = opt_flag(L, t, "lo");
  p->strict = opt_flag(L, t, "strict");
  p->hostname = opt_str(L, t, "hostname", "plan");
  field(L, t, "stop");
  p->stop = luaL_checkoption(L, -1, "none", stop_names);
  lua_pop(L, 1);
  if (field(L, t, "scaffold_size") != LUA_TNIL)
    p->scaffold_size = (unsigned long long)luaL_checkinteger(L, -1);
  lua_pop(L, 1);

  if (field(L, t, "steps") == LUA_TTABLE) {
    int steps = lua_gettop(L);
    p->has_mounts = 1;
    n = (size_t)lua_rawlen(L, steps);
    p->steps = (step *)lua_newuserdatauv(L, (n ? n : 1) * sizeof *p->steps, 0);
    lua_rawseti(L, anchors, ++nanchor);
    memset(p->steps, 0, (n ? n : 1) * sizeof *p->steps);
    for (i = 0; i < n; i++) {
      lua_rawgeti(L, steps, (lua_Integer)i + 1);
      luaL_checktype(L, -1, LUA_TTABLE);
      read_step(L, lua_gettop(L), &p->steps[i], i);
      lua_pop(L, 1);
    }
    p->nsteps = n;
  }
  lua_pop(L, 1);

  field(L, t, "stdio");
  for (i = 0; i < 3; i++) {
    p->stdio[i] = -1;
    if (lua_istable(L, -1)) {
      lua_geti(L, -1, (lua_Integer)i);
      if (!lua_isnil(L, -1))
        p->stdio[i] = nslua_checkfd(L, lua_gettop(L));
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  field(L, t, "keep_fds");
  n = lua_istable(L, -1) ? (size_t)lua_rawlen(L, -1) : 0;
  p->keep = (int *)lua_newuserdatauv(L, (n + 2) * sizeof *p->keep, 0);
  lua_rawseti(L, anchors, ++nanchor);
  for (i = 0; i < n; i++) {
    lua_rawgeti(L, -1, (lua_Integer)i + 1);
    p->keep[i + 2] = nslua_checkfd(L, lua_gettop(L));
    lua_pop(L, 1);
  }
  p->nkeep = n + 2;
  lua_pop(L, 1);

  /* the exec tail's plan: it reads 1..3 and leaves what it points into above */
  luaL_checkstack(L, 32, "setup.plan");
  p->exec = nslua_exec_plan(L);
  top = lua_gettop(L);
  for (k = anchors + 1; k <= top; k++) {
    lua_pushvalue(L, k);
    lua_rawseti(L, anchors, ++nanchor);
  }
  lua_pushvalue(L, 5);
  return 1;
}

/* ------------------------------------------------------------------ */
/* running it (the child)                                             */
/* ------------------------------------------------------------------ */

/* "setup <step> <errno> <what>: <call> '<subject>': <strerror><note>\n", then _exit(1) */
static void fail (const plan *p, const char *stepname, int err, const char *prefix,
                  const char *call, const char *subject, const char *note)
  __attribute__((noreturn));
static void fail (const plan *p, const char *stepname, int err, const char *prefix,
                  const char *call, const char *subject, const char *note) {
  char buf[PATH_MAX + 512];
  int n;
  if (subject != NULL)
    n = snprintf(buf, sizeof buf, "setup %s %d %s%s%s '%s': %s%s\n", stepname, err,
                 prefix ? prefix : "", prefix ? ": " : "", call, subject, strerror(err),
                 note ? note : "");
  else
    n = snprintf(buf, sizeof buf, "setup %s %d %s%s%s: %s%s\n", stepname, err,
                 prefix ? prefix : "", prefix ? ": " : "", call, strerror(err), note ? note : "");
  if (n > 0 && (size_t)n >= sizeof buf) {
    buf[sizeof buf - 2] = '\n';
    n = (int)sizeof buf - 1;
  }
  if (n > 0 && write(p->status_fd, buf, (size_t)n) < 0)
    n = 0;
  _exit(1);
}

/* Park until the parent dies (the sync pipe hangs up): a test kills nslua here. */
static void stop_here (const plan *p, int at) {
  struct pollfd pf;
  if (p->stop != at)
    return;
  for (;;) {
    pf.fd = p->sync_fd;
    pf.events = 0;
    pf.revents = 0;
    if (poll(&pf, 1, 1000) > 0 && (pf.revents & (POLLHUP | POLLERR)))
      _exit(1);
  }
}

static int lo_up (const char **what) {
  struct ifreq ifr;
  int err = 0, s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  *what = "socket";
  if (s < 0)
    return errno;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, "lo", 3);
  *what = "ioctl SIOCGIFFLAGS";
  if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0)
    err = errno;
  else if (!(ifr.ifr_flags & IFF_UP)) {
    ifr.ifr_flags |= IFF_UP;
    *what = "ioctl SIOCSIFFLAGS";
    if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0)
      err = errno;
  }
  close(s);
  return err;
}

static const char *dir_of (const plan *p, const char *path) {
  size_t n = strlen(path);
  const char *slash = strrchr(path, '/');
  if (slash == NULL || slash == path || n >= PATH_MAX)
    return "/";
  memcpy(p->scratch, path, (size_t)(slash - path));
  p->scratch[slash - path] = '\0';
  return p->scratch;
}

static void run_step (const plan *p, const step *s) {
  const char *what = s->what ? s->what : s->path, *call = NULL, *subject = s->path;
  struct stat st;
  int err = 0;
  switch (s->op) {
    case OP_MOUNT:
      if (mount(s->src, s->path, s->fstype, s->flags, s->data) != 0) {
        err = errno;
        fail(p, "mounts", err, what, "mount", s->path,
             err == ENOSPC ? " (too many mounts: see fs.mount-max)" : NULL);
      }
      return;
    case OP_ATTR:
      if (nslua_setattr(AT_FDCWD, s->path, s->set, 0, -1, s->rec) != 0)
        fail(p, "mounts", errno, what, "mount_setattr", s->path, NULL);
      return;
    case OP_MOVE:
      if (syscall(SYS_move_mount, s->fd, "", AT_FDCWD, s->path, MOVE_MOUNT_F_EMPTY_PATH) != 0)
        fail(p, "mounts", errno, what, "move_mount", s->path, NULL);
      return;
    case OP_MKDIR:
      if (strlen(s->path) >= PATH_MAX)
        fail(p, "mounts", ENAMETOOLONG, what, "mkdir", s->path, NULL);
      strcpy(p->scratch, s->path);
      if ((err = nslua_mkdir_p(p->scratch, s->mode, &subject)) != 0) {
        if (p->strict && strncmp(s->path, NEW_ROOT, sizeof NEW_ROOT - 1) == 0) {
          char pre[PATH_MAX + 80];
          snprintf(pre, sizeof pre, "%s: missing mount point (the root file system is read-only)", what);
          fail(p, "mounts", err, pre, "mkdir", subject, NULL);
        }
        fail(p, "mounts", err, what, "mkdir", subject, NULL);
      }
      return;
    case OP_MKFILE: {
      const char *dir = dir_of(p, s->path);
      if (dir != p->scratch) {
        strcpy(p->scratch, dir);
        dir = p->scratch;
      }
      if ((err = nslua_mkdir_p(p->scratch, 0755, &subject)) != 0)
        fail(p, "mounts", err, what, "mkdir", subject, NULL);
      if ((err = nslua_mkfile(s->path, 0644, &call)) != 0)
        fail(p, "mounts", err, what, call, s->path, NULL);
      return;
    }
    case OP_SYMLINK:
      if (symlink(s->target, s->path) != 0 && errno != EEXIST)
        fail(p, "mounts", errno, what, "symlink", s->path, NULL);
      return;
    case OP_CHMOD:
      if (chmod(s->path, s->mode) != 0)
        fail(p, "mounts", errno, what, "chmod", s->path, NULL);
      return;
    case OP_WRITE:
      if ((err = nslua_write_file(s->path, s->content, s->len, s->mode, &call)) != 0)
        fail(p, "mounts", err, what, call, s->path, NULL);
      return;
    case OP_MASK:  /* a directory gets an empty read-only tmpfs, anything else /dev/null */
      if (lstat(s->path, &st) != 0)
        return;
      if (S_ISDIR(st.st_mode)) {
        if (mount("tmpfs", s->path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                  "size=4096,mode=0555") != 0)
          fail(p, "mounts", errno, what, "mount", s->path, NULL);
      } else if (mount(OLD_ROOT "/dev/null", s->path, NULL, MS_BIND, NULL) != 0)
        fail(p, "mounts", errno, what, "mount", s->path, NULL);
      return;
    case OP_RO:
      if (lstat(s->path, &st) != 0)
        return;
      if (mount(s->path, s->path, NULL, MS_BIND | MS_REC, NULL) != 0)
        fail(p, "mounts", errno, what, "mount", s->path, NULL);
      if (nslua_setattr(AT_FDCWD, s->path, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
                        0, -1, 1) != 0)
        fail(p, "mounts", errno, what, "mount_setattr", s->path, NULL);
      return;
    default:
      return;
  }
}

/* The scaffolding: private propagation, a tmpfs root with the host's root
** at /.oldroot and the new root at /newroot (rootfs.enter). */
static void enter (const plan *p) {
  char data[64];
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
    fail(p, "mounts", errno, NULL, "mount", "/", NULL);
  snprintf(data, sizeof data, "mode=0700,size=%llu", p->scaffold_size);
  if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, data) != 0)
    fail(p, "mounts", errno, NULL, "mount", "/tmp", NULL);
  if (mkdir("/tmp" OLD_ROOT, 0700) != 0)
    fail(p, "mounts", errno, NULL, "mkdir", "/tmp" OLD_ROOT, NULL);
  if (mkdir("/tmp" NEW_ROOT, 0700) != 0)
    fail(p, "mounts", errno, NULL, "mkdir", "/tmp" NEW_ROOT, NULL);
  if (syscall(SYS_pivot_root, "/tmp", "/tmp" OLD_ROOT) != 0)
    fail(p, "mounts", errno, NULL, "pivot_root", "/tmp", NULL);
  if (chdir("/") != 0)
    fail(p, "mounts", errno, NULL, "chdir", "/", NULL);
}

/* Drop the host's root and make /newroot the root (rootfs.finish). */
static void finish (const plan *p) {
  if (umount2(OLD_ROOT, MNT_DETACH) != 0)
    fail(p, "pivot", errno, NULL, "umount", OLD_ROOT, NULL);
  if (chdir(NEW_ROOT) != 0)
    fail(p, "pivot", errno, NULL, "chdir", NEW_ROOT, NULL);
  if (syscall(SYS_pivot_root, ".", ".") != 0)
    fail(p, "pivot", errno, NULL, "pivot_root", ".", NULL);
  if (umount2(".", MNT_DETACH) != 0)
    fail(p, "pivot", errno, NULL, "umount", ".", NULL);
  if (chdir("/") != 0)
    fail(p, "pivot", errno, NULL, "chdir", "/", NULL);
}

/* The child's whole set-up, then the init: never returns. */
static void run_plan (plan *p) __attribute__((noreturn));
static void run_plan (plan *p) {
  const char *call;
  struct pollfd pf;
  char b = 0, line[32];
  size_t i;
  int cmd, n, err;

  if (p->sync_close >= 0)
    close(p->sync_close);
  /* 1. wait for the release; end of file means the parent died */
  if (read(p->sync_fd, &b, 1) != 1 || b != 'x')
    _exit(1);
  stop_here(p, STOP_IDS);
  /* 2. credentials at once: no process of a sandbox keeps host uid 0 */
  if (p->ids) {
    if (setgroups(0, NULL) != 0)
      fail(p, "ids", errno, NULL, "setgroups", NULL, NULL);
    if (setresgid(0, 0, 0) != 0)
      fail(p, "ids", errno, NULL, "setresgid", NULL, NULL);
    if (setresuid(0, 0, 0) != 0)
      fail(p, "ids", errno, NULL, "setresuid", NULL, NULL);
  }
  /* 3. after the last credential change, which clears it */
  if (prctl(PR_SET_PDEATHSIG, 9UL, 0, 0, 0) != 0)
    fail(p, "ids", errno, NULL, "prctl", "pdeathsig", NULL);
  pf.fd = p->sync_fd;
  pf.events = POLLIN;
  pf.revents = 0;
  if (poll(&pf, 1, 0) > 0 && (pf.revents & POLLHUP))
    _exit(1);
  /* 4. */
  if (setsid() < 0)
    fail(p, "ids", errno, NULL, "setsid", NULL, NULL);
  stop_here(p, STOP_UTS);
  if (p->hostname != NULL && sethostname(p->hostname, strlen(p->hostname)) != 0)
    fail(p, "uts", errno, NULL, "sethostname", p->hostname, NULL);
  stop_here(p, STOP_NET);
  if (p->lo && (err = lo_up(&call)) != 0)
    fail(p, "net", err, NULL, call, "lo", NULL);
  stop_here(p, STOP_MOUNTS);
  if (p->has_mounts) {
    enter(p);
    for (i = 0; i < p->nsteps; i++)
      run_step(p, &p->steps[i]);
  }
  stop_here(p, STOP_PIVOT);
  if (p->has_mounts)
    finish(p);
  stop_here(p, STOP_FORK);
  /* 5. the command, then the init */
  cmd = nslua_spawn(p->exec, p->stdio);
  if (cmd < 0)
    fail(p, "fork", errno, NULL, "clone", NULL, NULL);
  for (i = 0; i < 3; i++)
    if (p->stdio[i] > 2)
      close(p->stdio[i]);
  n = snprintf(line, sizeof line, "pid %d\n", cmd);
  if (n > 0 && write(p->status_fd, line, (size_t)n) < 0)
    n = 0;
  nslua_init_run(cmd, p->status_fd, p->keep, p->nkeep);
}

/* The child: its buffer for paths on its own stack, then the plan. */
static int plan_child (void *arg) {
  plan *p = (plan *)arg;
  char scratch[PATH_MAX];
  p->scratch = scratch;
  run_plan(p);
}

/* setup.run(plan) -> never returns: the plan in a child made by ns.clone. */
static int setup_run (lua_State *L) {
  plan_child(luaL_checkudata(L, 1, NSLUA_SETUP));
  return 0;
}

#define CHILD_STACK (256 * 1024)

/*
** setup.clone(plan, flags) -> pid | nil, msg, errno
** Clone a child with the namespaces in 'flags' (ns.clone's names; fork
** semantics otherwise) that runs the plan: it never returns into Lua and
** runs on a stack of its own that this process never touched, so the
** pages it writes are new ones rather than copy-on-write copies of ours
** (each copy costs a TLB shootdown: ~1.5 ms of a child's start here).
*/
static int setup_clone (lua_State *L) {
  plan *p = (plan *)luaL_checkudata(L, 1, NSLUA_SETUP);
  unsigned long flags = nslua_checkflags(L, 2, nslua_ns_flags);
  char *stack;
  int pid, err;
  luaL_argcheck(L, !(flags & CLONE_NEWTIME), 2, "'time' is not a clone flag");
  nslua_check_single_thread(L, "setup.clone");
#if defined(NSLUA_ASAN)
  /* `make sanitize`: fork semantics (see nslua.h) */
  (void)stack;
  (void)err;
  pid = (int)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
  if (pid == 0)
    plan_child(p);
#else
  stack = mmap(NULL, CHILD_STACK, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED)
    return nslua_fail(L, errno, "mmap", "stack");
  pid = clone(plan_child, stack + CHILD_STACK, (int)flags | SIGCHLD, p);
  err = errno;
  munmap(stack, CHILD_STACK);   /* ours only: the child has its own copy */
  errno = err;
#endif
  if (pid < 0)
    return nslua_fail(L, errno, "clone", NULL);
  lua_pushinteger(L, pid);
  return 1;
}

static const luaL_Reg setup_funcs[] = {
  {"clone", setup_clone},
  {"plan", setup_plan},
  {"run", setup_run},
  {NULL, NULL}
};

int nslua_open_setup (lua_State *L) {
  luaL_newmetatable(L, NSLUA_SETUP);
  lua_pushliteral(L, "nslua.setup plan");
  lua_setfield(L, -2, "__name");
  lua_pop(L, 1);
  luaL_newlib(L, setup_funcs);
  return 1;
}
