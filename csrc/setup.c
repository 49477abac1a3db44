/* setup.c - the container's child, after clone and before the command: one C sequence. */
/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/nsfs.h>
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
#include <sys/wait.h>
#include <unistd.h>

#include "nslua.h"
#include "status.h"
#include "setup.h"

/*
** The executor: the only code that runs in a sandbox's child, for every
** spec (DESIGN "The plan and the executor").  setup.plan(plan, rt) reads
** launch.plan's table and the runtime handles (fds, the BPF program, the
** hook functions) in the parent, before clone, and checks everything;
** setup.clone() then runs this file's sequence in the child: sync,
** credentials, pdeathsig, session, hostname, network guest steps, the
** mount steps in order, the pty, before_pivot, pivot, before_exec, the
** nested user namespace, the command, the init.  Why C: after clone the
** child shares every page of the Lua process copy-on-write, and each page
** the Lua VM writes costs a copy and a TLB shootdown; Lua runs in the child
** only for a hook the plan names.  Failures are status records
** (csrc/status.h; parsed by lua/nslua/status.lua).
*/

#define NSLUA_SETUP "nslua.setup"

static const char *const op_names[] = {
  "mount", "attr", "move", "mkdir", "mkfile", "symlink", "chmod", "write", "mask", "ro",
  "overlay", "sysctl", "mknod", "devbind", NULL
};

/* Test-only stops (NSLUA_TEST_STOP): the child parks at the named step. */
static const char *const stop_names[] = {
  "none", "ids", "uts", "net", "mounts", "pivot", "fork", NULL
};
enum { STOP_NONE, STOP_IDS, STOP_UTS, STOP_NET, STOP_MOUNTS, STOP_PIVOT, STOP_FORK };

/* The child stages that call a Lua hook (launch.CHILD_HOOKS). */
static const char *const hook_names[] = { "before_pivot", "before_exec", NULL };
enum { HOOK_PIVOT, HOOK_EXEC, NHOOKS };

typedef struct net_addr {
  const char *dev, *cidr;
} net_addr;

typedef struct net_route {
  const char *dst, *gateway, *dev;
  int family;
} net_route;

typedef struct plan {
  lua_State *L;                 /* the caller's, for hooks (set by clone/run) */
  int sync_fd, sync_close, status_fd, tty_sock;
  int ids, lo, strict, stop, tty;
  int init, new_session;        /* plan.init ~= false, plan.exec.session ~= "keep" */
  int detach;                   /* plan.detach: outlives nslua once parked */
  int block_fd, userns_block_fd, caller_sync;   /* plan.sync: the caller's, -1: none */
  const char **locks;           /* plan.lock_files: inside paths */
  size_t nlocks;
  long long owner;              /* euid for the clone of a user namespace, -1: ours */
  int hooks[NHOOKS];
  const char *hostname, *domainname;
  int time_ns;                  /* plan.time: a time namespace of our own */
  const char *time_offsets;     /* plan.time.offsets: "<clock> <sec> <nsec>\n" lines */
  step *steps;
  size_t nsteps;
  int has_mounts;
  unsigned long long scaffold_size;
  net_addr *addrs;
  size_t naddrs;
  const char **up;
  size_t nup;
  net_route *routes;
  size_t nroutes;
  const char *nested_uid_map, *nested_gid_map;   /* "in out n\n..." */
  exec_plan *exec;
  int stdio[3];
  int *keep;                    /* 2 scratch slots + the fds the init keeps */
  size_t nkeep;
  char *scratch;                /* mkdir -p buffer, PATH_MAX, on the child's stack */
  /* plan.userns and plan.pidns_fd (the caller's fds; -1: none) */
  int userns_fd, userns_after, pidns_fd, userns_disable, userns_assert;
  long long exec_uid, exec_gid; /* the command's ids (-1: unchanged), for the probe */
  int has_oom, oom_score_adj;   /* plan.oom_score_adj */
  unsigned long root_prop;      /* plan.rootfs_propagation: mount(2) flags, 0: none */
  int pidns_own;                /* pidns_fd is plan.pidns_path's, opened by setup.plan */
  int host_mnt_fd, host_mnt_own;  /* plan.host_mnt: our mount namespace, setup.plan's */
  int join_fds[8];              /* plan.join_paths, opened by setup.plan, in order */
  int join_types[8];            /* their CLONE_NEW* */
  size_t njoin;
  int oom_self;                 /* setup.run: the child writes its own */
  int guard_fan, guard_pidfd;   /* rt.guard_fan, rt.guard_pidfd: the set-id guard's watch */
} plan;

/* ------------------------------------------------------------------ */
/* reading the plan (parent, before clone)                            */
/* ------------------------------------------------------------------ */

/* Everything the plan points into stays anchored in this table (the
** plan userdata's user value), so nothing read here can be collected. */
#define ANCHORS 6

static void anchor (lua_State *L) {
  lua_rawseti(L, ANCHORS, (lua_Integer)lua_rawlen(L, ANCHORS) + 1);
}

/* An optional string field of the table at t (anchored through the table). */
static const char *opt_str (lua_State *L, int t, const char *name, const char *where) {
  const char *s = NULL;
  int ty = lua_getfield(L, t, name);
  if (ty == LUA_TSTRING)
    s = lua_tostring(L, -1);
  else if (ty != LUA_TNIL)
    luaL_error(L, "setup.plan: %s.%s must be a string", where, name);
  lua_pop(L, 1);
  return s;
}

static int opt_flag (lua_State *L, int t, const char *name) {
  int v;
  lua_getfield(L, t, name);
  v = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

static int opt_fd (lua_State *L, int t, const char *name, int def) {
  int fd = def;
  if (lua_getfield(L, t, name) != LUA_TNIL)
    fd = nslua_checkfd(L, lua_gettop(L));
  lua_pop(L, 1);
  return fd;
}

static unsigned int opt_mode (lua_State *L, int t, const char *name, unsigned int def) {
  lua_Integer m = def;
  if (lua_getfield(L, t, name) != LUA_TNIL) {
    m = luaL_checkinteger(L, -1);
    luaL_argcheck(L, m >= 0 && m <= 07777, 1, "a mode must be 0..07777");
  }
  lua_pop(L, 1);
  return (unsigned int)m;
}

/* t[name] as a table pushed on the stack, or nil; raises for another type. */
static int opt_table (lua_State *L, int t, const char *name, const char *where) {
  int ty = lua_getfield(L, t, name);
  if (ty != LUA_TTABLE && ty != LUA_TNIL)
    luaL_error(L, "setup.plan: %s.%s must be a table", where, name);
  return ty == LUA_TTABLE;
}

/* A zeroed array of n elements of 'size' bytes, anchored. */
static void *new_array (lua_State *L, size_t n, size_t size) {
  void *a = lua_newuserdatauv(L, (n ? n : 1) * size, 0);
  memset(a, 0, (n ? n : 1) * size);
  anchor(L);
  return a;
}

/* An optional id field (0..2^32-2) of a step or plan.exec, or -1. */
static long long opt_id (lua_State *L, int t, const char *name) {
  lua_Integer id = -1;
  if (lua_getfield(L, t, name) != LUA_TNIL) {
    id = luaL_checkinteger(L, -1);
    luaL_argcheck(L, id >= 0 && id < 0xffffffffLL, 1, "ids must be 0..2^32-2");
  }
  lua_pop(L, 1);
  return id;
}

/* The strings of the list at the top (at most 'max'; each one kept alive
** by that list) as an anchored array of *n; a non-string raises, naming
** what[i]. */
static const char **string_list (lua_State *L, size_t *n, size_t max, const char *what) {
  const char **a;
  size_t i;
  *n = (size_t)lua_rawlen(L, -1);
  if (*n > max)
    luaL_error(L, "setup.plan: %s has more than %d entries", what, (int)max);
  a = (const char **)new_array(L, *n, sizeof *a);
  for (i = 0; i < *n; i++) {
    if (lua_rawgeti(L, -1, (lua_Integer)i + 1) != LUA_TSTRING)
      luaL_error(L, "setup.plan: %s[%d] must be a string", what, (int)i + 1);
    a[i] = lua_tostring(L, -1);
    lua_pop(L, 1);
  }
  return a;
}

/* An overlay step's layers: lower = {path...} (anchored), upper, work. */
static void read_layers (lua_State *L, int t, step *s, const char *where) {
  s->upper = opt_str(L, t, "upper", where);
  s->work = opt_str(L, t, "work", where);
  if (!opt_table(L, t, "lower", where)) {
    lua_pop(L, 1);
    return;
  }
  s->lower = string_list(L, &s->nlower, 500, "an overlay's lower");
  lua_pop(L, 1);
}

static void read_step (lua_State *L, int t, int trees, step *s, size_t i) {
  char where[48];
  const char *tree;
  snprintf(where, sizeof where, "mounts.steps[%d]", (int)i + 1);
  lua_getfield(L, t, "op");
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
  if (lua_getfield(L, t, "flags") != LUA_TNIL)
    s->flags = nslua_checkflags(L, lua_gettop(L), nslua_mnt_flags);
  lua_pop(L, 1);
  if (lua_getfield(L, t, "set") != LUA_TNIL)
    s->set = nslua_checkflags(L, lua_gettop(L), nslua_mnt_attr_flags);
  lua_pop(L, 1);
  if (lua_getfield(L, t, "clear") != LUA_TNIL)
    s->clr = nslua_checkflags(L, lua_gettop(L), nslua_mnt_attr_flags);
  lua_pop(L, 1);
  s->rec = opt_flag(L, t, "rec");
  s->fd = -1;
  /* a detached tree is named by its key; the fd comes from rt.trees */
  if ((tree = opt_str(L, t, "tree", where)) != NULL) {
    if (trees == 0 || lua_getfield(L, trees, tree) == LUA_TNIL)
      luaL_error(L, "setup.plan: %s: no tree '%s' in rt.trees", where, tree);
    s->fd = nslua_checkfd(L, lua_gettop(L));
    lua_pop(L, 1);
  }
  s->mode = opt_mode(L, t, "mode", s->op == OP_WRITE ? 0644 : 0755);
  s->parents = opt_mode(L, t, "parents", 0755);
  if (lua_getfield(L, t, "content") == LUA_TSTRING)
    s->content = lua_tolstring(L, -1, &s->len);
  lua_pop(L, 1);
  s->src_fd = -1;
  if (lua_getfield(L, t, "src_fd") != LUA_TNIL)
    s->src_fd = nslua_checkfd(L, lua_gettop(L));
  lua_pop(L, 1);
  s->mountpoint = opt_flag(L, t, "mountpoint");
  if (s->op == OP_MKNOD || s->op == OP_DEVBIND) {
    static const char *const kinds[] = { "c", "b", "p", NULL };
    lua_Integer n;
    int k;
    lua_getfield(L, t, "kind");
    k = luaL_checkoption(L, -1, NULL, kinds);
    s->blockdev = k == 1;
    s->fifo = k == 2;
    luaL_argcheck(L, !s->fifo || s->op == OP_MKNOD, 1, "a devbind step binds a device, not a FIFO");
    lua_getfield(L, t, "major");
    n = s->fifo ? luaL_optinteger(L, -1, 0) : luaL_checkinteger(L, -1);
    luaL_argcheck(L, n >= 0 && n <= 4095, 1, "a device major is 0..4095");
    s->major = (unsigned int)n;
    lua_getfield(L, t, "minor");
    n = s->fifo ? luaL_optinteger(L, -1, 0) : luaL_checkinteger(L, -1);
    luaL_argcheck(L, n >= 0 && n <= 1048575, 1, "a device minor is 0..1048575");
    s->minor = (unsigned int)n;
    lua_pop(L, 3);
  }
  s->uid = opt_id(L, t, "uid");
  s->gid = opt_id(L, t, "gid");
  if (s->op == OP_OVERLAY)
    read_layers(L, t, s, where);
  if ((s->op == OP_SYMLINK && s->target == NULL) || (s->op == OP_MOVE && s->fd < 0) ||
      ((s->op == OP_WRITE || s->op == OP_SYSCTL) && s->content == NULL) ||
      (s->op == OP_SYSCTL && s->target == NULL) || (s->op == OP_MOUNT && s->src_fd >= 0 && s->src == NULL) ||
      (s->op == OP_OVERLAY && (s->nlower == 0 || (s->upper == NULL) != (s->work == NULL))))
    luaL_error(L, "setup.plan: %s (%s) lacks its argument", where, op_names[s->op]);
}

/* plan.mounts = {steps = {...}, scaffold_size = N, strict = bool} */
static void read_mounts (lua_State *L, plan *p, int t, int rt) {
  int steps, trees = 0;
  size_t i, n;
  if (!opt_table(L, t, "mounts", "plan")) {
    lua_pop(L, 1);
    return;
  }
  p->has_mounts = 1;
  p->strict = opt_flag(L, -1, "strict");
  if (lua_getfield(L, -1, "scaffold_size") != LUA_TNIL)
    p->scaffold_size = (unsigned long long)luaL_checkinteger(L, -1);
  lua_pop(L, 1);
  if (!opt_table(L, -1, "steps", "plan.mounts"))
    luaL_error(L, "setup.plan: plan.mounts.steps is missing");
  steps = lua_gettop(L);
  if (opt_table(L, rt, "trees", "rt"))
    trees = lua_gettop(L);
  n = (size_t)lua_rawlen(L, steps);
  p->steps = (step *)new_array(L, n, sizeof *p->steps);
  for (i = 0; i < n; i++) {
    lua_rawgeti(L, steps, (lua_Integer)i + 1);
    luaL_checktype(L, -1, LUA_TTABLE);
    read_step(L, lua_gettop(L), trees, &p->steps[i], i);
    lua_pop(L, 1);
  }
  p->nsteps = n;
  lua_settop(L, steps - 2);
}

/* plan.net = {lo = bool, addrs = {{dev, cidr}}, up = {dev...}, routes = {{dst, gateway, dev, family}}} */
static void read_net (lua_State *L, plan *p, int t) {
  int net;
  size_t i;
  if (!opt_table(L, t, "net", "plan")) {
    lua_pop(L, 1);
    return;
  }
  net = lua_gettop(L);
  p->lo = opt_flag(L, net, "lo");
  if (opt_table(L, net, "addrs", "plan.net")) {
    p->naddrs = (size_t)lua_rawlen(L, -1);
    p->addrs = (net_addr *)new_array(L, p->naddrs, sizeof *p->addrs);
    for (i = 0; i < p->naddrs; i++) {
      lua_rawgeti(L, -1, (lua_Integer)i + 1);
      luaL_checktype(L, -1, LUA_TTABLE);
      p->addrs[i].dev = opt_str(L, -1, "dev", "plan.net.addrs[]");
      p->addrs[i].cidr = opt_str(L, -1, "cidr", "plan.net.addrs[]");
      if (p->addrs[i].dev == NULL || p->addrs[i].cidr == NULL)
        luaL_error(L, "setup.plan: plan.net.addrs[%d] needs dev and cidr", (int)i + 1);
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  if (opt_table(L, net, "up", "plan.net"))
    p->up = string_list(L, &p->nup, 4096, "plan.net.up");
  lua_pop(L, 1);
  if (opt_table(L, net, "routes", "plan.net")) {
    p->nroutes = (size_t)lua_rawlen(L, -1);
    p->routes = (net_route *)new_array(L, p->nroutes, sizeof *p->routes);
    for (i = 0; i < p->nroutes; i++) {
      const char *fam;
      net_route *r = &p->routes[i];
      lua_rawgeti(L, -1, (lua_Integer)i + 1);
      luaL_checktype(L, -1, LUA_TTABLE);
      r->dst = opt_str(L, -1, "dst", "plan.net.routes[]");
      r->gateway = opt_str(L, -1, "gateway", "plan.net.routes[]");
      r->dev = opt_str(L, -1, "dev", "plan.net.routes[]");
      fam = opt_str(L, -1, "family", "plan.net.routes[]");
      r->family = fam == NULL ? 0 : strcmp(fam, "inet6") == 0 ? AF_INET6 : AF_INET;
      lua_pop(L, 1);
    }
  }
  lua_settop(L, net - 1);
}

/* A map {{in, out, count}, ...} as the text of a uid_map write, anchored. */
static const char *map_text (lua_State *L, int t, const char *name) {
  luaL_Buffer b;
  const char *s;
  size_t i, n;
  int m;
  if (!opt_table(L, t, name, "plan.nested_userns"))
    luaL_error(L, "setup.plan: plan.nested_userns.%s is missing", name);
  m = lua_gettop(L);
  n = (size_t)lua_rawlen(L, m);
  luaL_argcheck(L, n > 0 && n <= 340, 1, "a nested map has 1..340 lines");
  luaL_buffinit(L, &b);
  for (i = 1; i <= n; i++) {
    lua_Integer v[3];
    int k;
    lua_rawgeti(L, m, (lua_Integer)i);
    luaL_checktype(L, -1, LUA_TTABLE);
    for (k = 0; k < 3; k++) {
      lua_rawgeti(L, -1, k + 1);
      v[k] = luaL_checkinteger(L, -1);
      luaL_argcheck(L, v[k] >= 0 && v[k] <= 0xffffffffLL, 1, "a map value is a 32-bit id");
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
    lua_pushfstring(L, "%I %I %I\n", v[0], v[1], v[2]);
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
  s = lua_tostring(L, -1);
  anchor(L);                    /* pops the text; the anchors keep it (and s) alive */
  lua_pop(L, 1);
  return s;
}

/* The exec tail's options: plan.exec's (checked again by the tail) plus
** the runtime's status fd, cgroup.procs fds and BPF program. */
static const char *const exec_copy[] = {
  "cwd", "rlimits", "caps", "keep_caps", "tty", "keep_fds", "uid", "gid", "groups",
  "argv0", "set_pwd", "session", "die_with_parent", "host_caps", "stdio_inside",
  "stderr_to_stdout", "exec_error", "umask", "no_new_privs", "personality", "cap_sets",
  "landlock", NULL
};

static void push_exec_opts (lua_State *L, int exec, int rt) {
  int i;
  lua_newtable(L);
  for (i = 0; exec_copy[i] != NULL; i++) {
    lua_getfield(L, exec, exec_copy[i]);
    lua_setfield(L, -2, exec_copy[i]);
  }
  lua_getfield(L, rt, "status_w");
  lua_setfield(L, -2, "status_fd");
  lua_getfield(L, rt, "cgroup_procs");
  lua_setfield(L, -2, "cgroup_procs");
  lua_getfield(L, rt, "seccomp");
  lua_setfield(L, -2, "seccomp");
  lua_getfield(L, rt, "seccomp_bpf");
  lua_setfield(L, -2, "seccomp_bpf");
  lua_getfield(L, rt, "seccomp_guard");
  lua_setfield(L, -2, "seccomp_guard");
  lua_getfield(L, rt, "seccomp_layers");
  lua_setfield(L, -2, "seccomp_layers");
  lua_getfield(L, rt, "seccomp_notify");
  lua_setfield(L, -2, "seccomp_notify");
  lua_getfield(L, rt, "notify_sock");
  lua_setfield(L, -2, "notify_sock");
  lua_getfield(L, rt, "notify_state");
  lua_setfield(L, -2, "notify_state");
}

/* An optional fd number field of the table at t: -1 when nil. */
static int opt_fdnum (lua_State *L, int t, const char *name, const char *where) {
  lua_Integer fd = -1;
  int ty = lua_getfield(L, t, name);
  if (ty != LUA_TNIL) {
    if (!lua_isinteger(L, -1) || (fd = lua_tointeger(L, -1)) < 0 || fd > INT_MAX)
      luaL_error(L, "setup.plan: %s.%s must be a file descriptor number", where, name);
  }
  lua_pop(L, 1);
  return (int)fd;
}

/* plan.userns {fd, after, disable, assert_disabled}, plan.pidns_fd, and
** the command's ids (plan.exec.uid/gid) that the user namespace probe takes;
** the raw programs of rt.seccomp_bpf must be the ones plan.exec.seccomp_bpf
** counts (instructions each), and rt.seccomp_guard is there exactly when
** plan.exec.setid_guard says so, so explain shows what runs. */
static void read_namespaces (lua_State *L, plan *p, int t, int rt) {
  size_t i, n;
  p->userns_fd = p->userns_after = -1;
  if (opt_table(L, t, "userns", "plan")) {
    p->userns_fd = opt_fdnum(L, -1, "fd", "plan.userns");
    p->userns_after = opt_fdnum(L, -1, "after", "plan.userns");
    p->userns_disable = opt_flag(L, -1, "disable");
    p->userns_assert = opt_flag(L, -1, "assert_disabled");
  }
  lua_pop(L, 1);
  p->pidns_fd = opt_fdnum(L, t, "pidns_fd", "plan");
  p->exec_uid = p->exec_gid = -1;
  if (opt_table(L, t, "exec", "plan")) {
    p->exec_uid = opt_id(L, lua_gettop(L), "uid");
    p->exec_gid = opt_id(L, lua_gettop(L), "gid");
    opt_table(L, -1, "seccomp_bpf", "plan.exec");
    opt_table(L, rt, "seccomp_bpf", "rt");
    n = lua_istable(L, -2) ? (size_t)lua_rawlen(L, -2) : 0;
    if (n != (lua_istable(L, -1) ? (size_t)lua_rawlen(L, -1) : 0))
      luaL_error(L, "setup.plan: plan.exec.seccomp_bpf and rt.seccomp_bpf differ");
    for (i = 1; i <= n; i++) {
      size_t len = 0;
      lua_Integer insns;
      lua_rawgeti(L, -2, (lua_Integer)i);
      insns = luaL_checkinteger(L, -1);
      if (lua_rawgeti(L, -2, (lua_Integer)i) == LUA_TSTRING)
        (void)lua_tolstring(L, -1, &len);
      if (insns < 1 || (size_t)insns * 8 != len)
        luaL_error(L, "setup.plan: rt.seccomp_bpf[%d] is not the %d instructions of "
                   "plan.exec.seccomp_bpf[%d]", (int)i, (int)insns, (int)i);
      lua_pop(L, 2);
    }
    lua_pop(L, 2);
    /* plan.exec.setid_guard: the guard's program must be there */
    lua_getfield(L, -1, "setid_guard");
    lua_getfield(L, rt, "seccomp_guard");
    if (lua_toboolean(L, -2) != (lua_type(L, -1) == LUA_TSTRING))
      luaL_error(L, "setup.plan: plan.exec.setid_guard and rt.seccomp_guard differ");
    lua_pop(L, 2);
  }
  lua_pop(L, 1);
}

/* The namespaces plan.join_paths may name (launch's order: the clone's
** helper joins them in it), their CLONE_NEW* and the words a failed
** setns is reported with (literals: the same in every copy). */
static const char *const join_names[] = { "ipc", "uts", "net", "cgroup", "time", "mnt", NULL };
static const int join_clone[] = { CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWNET, CLONE_NEWCGROUP,
                                  CLONE_NEWTIME, CLONE_NEWNS };
static const char *const join_what[] = { "setns ipc", "setns uts", "setns net", "setns cgroup",
                                         "setns time", "setns mnt" };

static void close_joins (plan *p) {
  size_t i;
  for (i = 0; i < p->njoin; i++)
    if (p->join_fds[i] >= 0) {
      close(p->join_fds[i]);
      p->join_fds[i] = -1;
    }
  if (p->pidns_own && p->pidns_fd >= 0) {
    close(p->pidns_fd);
    p->pidns_fd = -1;
  }
}

static void close_host_mnt (plan *p) {
  if (p->host_mnt_own && p->host_mnt_fd >= 0)
    close(p->host_mnt_fd);
  p->host_mnt_own = 0;
  p->host_mnt_fd = -1;
}

/* Open a namespace file of type 'type' for setns, read-only and
** close-on-exec; raise naming join.<name> when it is no such file. */
static int open_ns_file (lua_State *L, const char *name, const char *path, int type) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  int err = errno;
  if (fd < 0)
    luaL_error(L, "join.%s '%s': %s", name, path, strerror(err));
  if (ioctl(fd, NS_GET_NSTYPE) != type) {
    close(fd);
    luaL_error(L, "join.%s '%s': not a %s namespace file", name, path, name);
  }
  return fd;
}

/*
** plan.join_paths = {{ns = "net", path = "/proc/123/ns/net"}, ...}: each
** path opened here, in the parent (read-only, close-on-exec), and checked
** to be a namespace file of that type (NS_GET_NSTYPE: nothing else
** answers it), so the child's helper can only ever setns into what the
** plan names.  A path that is no such file raises, naming join.<ns>; the
** fds close with the plan (its __gc).
*/
static void read_joins (lua_State *L, plan *p, int t) {
  size_t i, n;
  /* plan.pidns_path: joined as plan.pidns_fd is (the clone is born in
  ** it), from a file of ours; after read_namespaces, which set -1 */
  const char *pid_path = opt_str(L, t, "pidns_path", "plan");
  /* plan.host_mnt: the mount namespace the child returns to (ours) */
  p->host_mnt_fd = -1;
  if (opt_flag(L, t, "host_mnt")) {
    p->host_mnt_fd = open_ns_file(L, "mnt", "/proc/self/ns/mnt", CLONE_NEWNS);
    p->host_mnt_own = 1;
  }
  if (pid_path != NULL) {
    luaL_argcheck(L, p->pidns_fd < 0, 1, "plan.pidns_path conflicts with plan.pidns_fd");
    p->pidns_fd = open_ns_file(L, "pid", pid_path, CLONE_NEWPID);
    p->pidns_own = 1;
  }
  if (!opt_table(L, t, "join_paths", "plan")) {
    lua_pop(L, 1);
    return;
  }
  n = (size_t)lua_rawlen(L, -1);
  luaL_argcheck(L, n <= 6, 1, "plan.join_paths has at most 6 entries");
  for (i = 0; i < n; i++) {
    const char *path;
    int k, fd, type;
    lua_rawgeti(L, -1, (lua_Integer)i + 1);
    luaL_checktype(L, -1, LUA_TTABLE);
    lua_getfield(L, -1, "ns");
    k = luaL_checkoption(L, -1, NULL, join_names);
    path = opt_str(L, -2, "path", "plan.join_paths[]");
    if (path == NULL)
      luaL_error(L, "setup.plan: plan.join_paths[%d].path is missing", (int)i + 1);
    type = join_clone[k];
    fd = open_ns_file(L, join_names[k], path, type);
    p->join_fds[p->njoin] = fd;
    p->join_types[p->njoin++] = type;
    lua_pop(L, 2);
  }
  lua_pop(L, 1);
}

/* The plan userdata's __gc: the namespace fds setup.plan opened. */
static int setup_gc (lua_State *L) {
  plan *p = (plan *)luaL_checkudata(L, 1, NSLUA_SETUP);
  close_joins(p);
  close_host_mnt(p);
  return 0;
}

/* plan.sync = {block_fd = N, userns_block_fd = N, sync_fd = N}: fds of the caller */
static void read_sync (lua_State *L, plan *p, int t) {
  static const char *const names[] = { "block_fd", "userns_block_fd", "sync_fd", NULL };
  int *fds[3];
  int i;
  fds[0] = &p->block_fd;
  fds[1] = &p->userns_block_fd;
  fds[2] = &p->caller_sync;
  for (i = 0; i < 3; i++)
    *fds[i] = -1;
  if (opt_table(L, t, "sync", "plan")) {
    nslua_check_opt_names(L, lua_gettop(L), names);
    for (i = 0; i < 3; i++) {
      lua_Integer fd;
      if (lua_getfield(L, -1, names[i]) != LUA_TNIL) {
        fd = luaL_checkinteger(L, -1);
        luaL_argcheck(L, fd >= 0 && fd <= INT_MAX, 1, "plan.sync: an fd must be >= 0");
        *fds[i] = (int)fd;
      }
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
}

/* plan.lock_files = {PATH, ...} */
static void read_locks (lua_State *L, plan *p, int t) {
  if (opt_table(L, t, "lock_files", "plan"))
    p->locks = string_list(L, &p->nlocks, 4096, "plan.lock_files");
  lua_pop(L, 1);
}

/*
** setup.plan(plan, rt) -> plan (userdata)
** plan: launch.plan's table (identity.switch, hostname, net, mounts, tty,
**   hooks, nested_userns, exec {argv, env, cwd, rlimits, caps, ...}).
** rt: the runtime handles: sync_r, sync_w, status_w, tty_sock, stdio
**   {[0]=, [1]=, [2]=}, trees {key = fd}, cgroup_procs {fd...}, seccomp
**   (BPF), keep {fd...} (the init keeps them), hooks {name = function},
**   hook_ctx (the hooks' argument), stop (a test-only step name).
** Everything is read and checked here; misuse raises.
*/
static int setup_plan (lua_State *L) {
  plan *p;
  size_t i, n;
  int k, top, t = 4, rt = 5;
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  if (lua_getfield(L, 1, "exec") != LUA_TTABLE)
    luaL_error(L, "setup.plan: plan.exec is missing");
  lua_getfield(L, 3, "argv");
  if (lua_getfield(L, 3, "env") == LUA_TNIL) {
    lua_pop(L, 1);
    lua_newtable(L);
  }
  push_exec_opts(L, 3, 2);
  lua_remove(L, 3);
  lua_rotate(L, 1, 3);          /* argv, env, opts at 1..3 (the exec tail's), plan 4, rt 5 */
  luaL_argcheck(L, lua_istable(L, 1), 1, "field 'exec.argv' must be a table");
  luaL_argcheck(L, lua_istable(L, 2), 1, "field 'exec.env' must be a table");
  p = (plan *)lua_newuserdatauv(L, sizeof *p, 1);                  /* 6 */
  memset(p, 0, sizeof *p);
  luaL_setmetatable(L, NSLUA_SETUP);
  lua_newtable(L);                                                  /* 7: anchors */
  lua_pushvalue(L, -1);
  lua_setiuservalue(L, 6, 1);
  lua_rotate(L, 6, 1);          /* anchors at 6 (ANCHORS), the userdata at 7 */
  for (k = 1; k <= 5; k++) {
    lua_pushvalue(L, k);
    anchor(L);
  }

  (void)nslua_argv_area();     /* read here, in the parent: the child only writes */
  p->sync_fd = opt_fd(L, rt, "sync_r", -1);
  p->sync_close = opt_fd(L, rt, "sync_w", -1);
  p->status_fd = opt_fd(L, rt, "status_w", -1);
  p->tty_sock = opt_fd(L, rt, "tty_sock", -1);
  luaL_argcheck(L, p->sync_fd >= 0 && p->status_fd >= 0, 2, "sync_r and status_w are required");
  lua_getfield(L, rt, "stop");
  p->stop = luaL_checkoption(L, -1, "none", stop_names);
  lua_pop(L, 1);
  p->owner = -1;
  if (opt_table(L, t, "identity", "plan")) {
    p->ids = opt_flag(L, -1, "switch");
    if (lua_getfield(L, -1, "owner") != LUA_TNIL) {
      p->owner = luaL_checkinteger(L, -1);
      luaL_argcheck(L, p->owner >= 0 && p->owner < 0xffffffffLL, 1,
                    "plan.identity.owner must be a uid");
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  p->hostname = opt_str(L, t, "hostname", "plan");
  p->domainname = opt_str(L, t, "domainname", "plan");
  if (opt_table(L, t, "time", "plan")) {
    p->time_ns = 1;
    p->time_offsets = opt_str(L, -1, "offsets", "plan.time");
    luaL_argcheck(L, p->time_offsets == NULL || strlen(p->time_offsets) < 128, 1,
                  "plan.time.offsets must be under 128 bytes");
  }
  lua_pop(L, 1);
  luaL_argcheck(L, p->domainname == NULL || strlen(p->domainname) <= 64, 1,
                "plan.domainname must be at most 64 bytes");
  if (lua_getfield(L, t, "oom_score_adj") != LUA_TNIL) {
    lua_Integer v = luaL_checkinteger(L, -1);
    luaL_argcheck(L, v >= -1000 && v <= 1000, 1, "plan.oom_score_adj must be -1000..1000");
    p->has_oom = 1;
    p->oom_score_adj = (int)v;
  }
  lua_pop(L, 1);
  p->tty = opt_flag(L, t, "tty");
  {
    static const char *const props[] = { "none", "private", "rprivate", "slave", "rslave", "shared",
                                         "rshared", "unbindable", "runbindable", NULL };
    static const unsigned long prop_flags[] = { 0, MS_PRIVATE, MS_PRIVATE | MS_REC, MS_SLAVE,
                                                MS_SLAVE | MS_REC, MS_SHARED, MS_SHARED | MS_REC,
                                                MS_UNBINDABLE, MS_UNBINDABLE | MS_REC };
    lua_getfield(L, t, "rootfs_propagation");
    p->root_prop = prop_flags[luaL_checkoption(L, -1, "none", props)];
    lua_pop(L, 1);
  }
  lua_getfield(L, t, "init");
  p->init = lua_isnil(L, -1) || lua_toboolean(L, -1);
  lua_pop(L, 1);
  p->detach = opt_flag(L, t, "detach");
  {
    /* plan.exec.session: the child and the exec tail alike */
    const char *session = opt_str(L, 3, "session", "plan.exec");
    p->new_session = session == NULL || strcmp(session, "keep") != 0;
  }
  luaL_argcheck(L, !p->tty || p->new_session, 1, "a tty plan needs session 'new'");
  read_sync(L, p, t);
  read_locks(L, p, t);
  luaL_argcheck(L, !p->tty || p->tty_sock >= 0, 2, "a tty plan needs rt.tty_sock");
  read_net(L, p, t);
  read_mounts(L, p, t, rt);
  read_namespaces(L, p, t, rt);
  read_joins(L, p, t);

  /* hooks: names in the plan, functions in rt.hooks (kept in the anchors) */
  if (opt_table(L, t, "hooks", "plan")) {
    n = (size_t)lua_rawlen(L, -1);
    if (!opt_table(L, rt, "hooks", "rt"))
      luaL_error(L, "setup.plan: the plan names hooks but rt.hooks is missing");
    for (i = 1; i <= n; i++) {
      int h;
      lua_rawgeti(L, -2, (lua_Integer)i);
      h = luaL_checkoption(L, -1, NULL, hook_names);
      if (lua_getfield(L, -2, hook_names[h]) != LUA_TFUNCTION)
        luaL_error(L, "setup.plan: rt.hooks.%s must be a function", hook_names[h]);
      lua_pop(L, 2);
      p->hooks[h] = 1;
    }
    lua_setfield(L, ANCHORS, "hooks");
    lua_getfield(L, rt, "hook_ctx");
    lua_setfield(L, ANCHORS, "ctx");
  }
  lua_pop(L, 1);

  if (opt_table(L, t, "nested_userns", "plan")) {
    int nt = lua_gettop(L);
    p->nested_uid_map = map_text(L, nt, "uid_map");
    p->nested_gid_map = map_text(L, nt, "gid_map");
    lua_settop(L, nt);
  }
  lua_pop(L, 1);

  opt_table(L, rt, "stdio", "rt");
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
  opt_table(L, rt, "keep", "rt");
  n = lua_istable(L, -1) ? (size_t)lua_rawlen(L, -1) : 0;
  /* room for the lock files' fds, the sync fd and the guard's two fds,
  ** added in the child */
  p->keep = (int *)new_array(L, n + 2 + p->nlocks + 3, sizeof *p->keep);
  for (i = 0; i < n; i++) {
    lua_rawgeti(L, -1, (lua_Integer)i + 1);
    p->keep[i + 2] = nslua_checkfd(L, lua_gettop(L));
    lua_pop(L, 1);
  }
  p->nkeep = n + 2;
  lua_pop(L, 1);
  /* rt.guard_fan, rt.guard_pidfd: the set-id guard's group and a pidfd
  ** of its answerer (guard.c), which the init keeps and the command
  ** never gets */
  p->guard_fan = opt_fd(L, rt, "guard_fan", -1);
  p->guard_pidfd = opt_fd(L, rt, "guard_pidfd", -1);
  luaL_argcheck(L, (p->guard_fan < 0) == (p->guard_pidfd < 0), 2,
                "rt.guard_fan and rt.guard_pidfd go together");
  luaL_argcheck(L, p->guard_fan < 0 || (p->init && p->has_mounts), 2,
                "rt.guard_fan needs the init and plan.mounts");
  /* (plan.host_mnt clones the root after the marks: copies unwatched) */
  luaL_argcheck(L, p->guard_fan < 0 || !p->host_mnt_own, 2, "rt.guard_fan excludes plan.host_mnt");

  /* the exec tail's plan: it reads 1..3 and leaves what it points into above */
  luaL_checkstack(L, 32, "setup.plan");
  top = lua_gettop(L);
  p->exec = nslua_exec_plan(L);
  /* without an init the command holds the lock files and the sync fd */
  nslua_exec_reserve(L, p->exec, p->init ? 0 : p->nlocks + 1);
  for (k = top + 1; k <= lua_gettop(L); k++) {
    lua_pushvalue(L, k);
    anchor(L);
  }
  lua_pushvalue(L, 7);
  return 1;
}

/* ------------------------------------------------------------------ */
/* running it (the child)                                             */
/* ------------------------------------------------------------------ */

/* A "setup" status record (status.h), then _exit(1). */
static void fail (const plan *p, const char *stepname, int err, const char *prefix,
                  const char *call, const char *subject, const char *note)
  __attribute__((noreturn));
static void fail (const plan *p, const char *stepname, int err, const char *prefix,
                  const char *call, const char *subject, const char *note) {
  nslua_status_setup(p->status_fd, stepname, err, prefix, call, subject, note);
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

/* A "setup" record with a message of its own (a hook's error), then _exit(1). */
static void fail_msg (const plan *p, const char *stepname, int err, const char *msg)
  __attribute__((noreturn));
static void fail_msg (const plan *p, const char *stepname, int err, const char *msg) {
  nslua_status_setup_msg(p->status_fd, stepname, err, msg);
  _exit(1);
}

/* The Lua hook of a stage, called with the hook context; an error is the
** set-up failure "hook:<name>".  The plan userdata is argument 1 of the
** (never returning) setup.clone or setup.run call, so its anchors are. */
static void run_hook (const plan *p, int h) {
  lua_State *L = p->L;
  char stage[32];
  if (!p->hooks[h])
    return;
  snprintf(stage, sizeof stage, "hook:%s", hook_names[h]);
  lua_getiuservalue(L, 1, 1);
  lua_getfield(L, -1, "hooks");
  lua_getfield(L, -1, hook_names[h]);
  lua_getfield(L, -3, "ctx");
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    fail_msg(p, stage, 0, msg != NULL ? msg : "(an error object that is not a string)");
  }
  lua_pop(L, 2);
}

/* The network guest steps (rtnetlink): lo, addresses, links up, routes.
** Returns 0, or an errno with *call and *subject (and *prefix) set. */
static int net_steps (const plan *p, const char **call, const char **subject,
                      const char **prefix) {
  size_t i;
  int err;
  *prefix = NULL;
  *subject = "lo";
  if (p->lo && (err = nslua_nl_link_up("lo", call)) != 0)
    return err;
  for (i = 0; i < p->naddrs; i++) {
    *subject = p->addrs[i].dev;
    *prefix = p->addrs[i].cidr;
    if ((err = nslua_nl_addr_add(p->addrs[i].dev, p->addrs[i].cidr, call)) != 0)
      return err;
  }
  *prefix = NULL;
  for (i = 0; i < p->nup; i++) {
    *subject = p->up[i];
    if ((err = nslua_nl_link_up(p->up[i], call)) != 0)
      return err;
  }
  for (i = 0; i < p->nroutes; i++) {
    const net_route *r = &p->routes[i];
    *subject = r->dev;
    *prefix = r->dst != NULL ? r->dst : "default";
    if ((err = nslua_nl_route_add(r->dst, r->gateway, r->dev, r->family, call)) != 0)
      return err;
  }
  return 0;
}

/* The interactive pty: opened in the sandbox's own devpts instance (so
** `tty` inside names a /dev/pts device that exists there); the master goes
** to nslua over rt.tty_sock, the slave becomes the command's stdio. */
static void open_tty (plan *p) {
  const char *ptmx = p->has_mounts ? NEW_ROOT "/dev/pts/ptmx" : "/dev/ptmx", *what = "open";
  char path[sizeof PROC_FD + 24];
  int master, slave, err = 0, root = -1, fd = -1;
  if (p->has_mounts) {
    /* the new root's ptmx, looked up inside it (a rootfs's /dev may be a
    ** link), then opened through its O_PATH fd */
    if ((root = open(NEW_ROOT, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0 ||
        (fd = nslua_open_in_root(root, "dev/pts/ptmx", O_PATH)) < 0)
      err = errno;
    snprintf(path, sizeof path, PROC_FD "%d", fd);
  }
  if (err == 0)
    err = nslua_openpty(p->has_mounts ? path : ptmx, &master, &slave, NULL, &what);
  if (err != 0)
    fail(p, "tty", err, NULL, what, ptmx, NULL);
  if (p->has_mounts) {
    close(fd);
    close(root);
  }
  if ((err = nslua_sendfd(p->tty_sock, master)) != 0)
    fail(p, "tty", err, NULL, "sendmsg", NULL, NULL);
  close(master);
  close(p->tty_sock);
  p->stdio[0] = p->stdio[1] = p->stdio[2] = slave;
}

/* Wait until the caller writes a byte to its fd or closes it (plan.sync:
** block_fd, userns_block_fd); nslua's death (the sync pipe hangs up)
** ends the wait and the child. */
static void block_on (const plan *p, int fd, const char *what) {
  struct pollfd pf[2];
  char b;
  for (;;) {
    pf[0].fd = fd;
    pf[0].events = POLLIN;
    /* detached (plan.detach): nslua may be gone; only the fd counts */
    pf[1].fd = p->detach ? -1 : p->sync_fd;
    pf[1].events = 0;
    pf[0].revents = pf[1].revents = 0;
    if (poll(pf, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      fail(p, "sync", errno, NULL, "poll", what, NULL);
    }
    if (pf[1].revents & (POLLHUP | POLLERR))
      _exit(1);
    if (pf[0].revents & POLLNVAL)
      fail(p, "sync", EBADF, NULL, "read", what, NULL);
    if (pf[0].revents == 0)
      continue;
    if (read(fd, &b, 1) >= 0)    /* a byte, or end of file */
      return;
    if (errno != EINTR && errno != EAGAIN)
      fail(p, "sync", errno, NULL, "read", what, NULL);
  }
}

/* The set-id guard's watch (guard.c): the mounts are in place, so the
** parent marks those that write as host root while we wait, then writes
** "m".  We must be the pid namespace's init: only its end takes every
** process that could open a watched file with it. */
static void guard_marks (const plan *p) {
  char b = 0;
  ssize_t r;
  if (syscall(SYS_getpid) != 1)
    fail(p, "guard", EINVAL, NULL, "getpid", "(the set-id guard needs a pid namespace)", NULL);
  if (nslua_status_marks(p->status_fd) != 0)
    _exit(1);
  while ((r = read(p->sync_fd, &b, 1)) < 0 && errno == EINTR)
    ;
  if (r != 1 || b != 'm')
    _exit(1);
}


/* plan.lock_files: each opened inside the sandbox and read-locked without
** waiting (fcntl F_SETLK: a lock someone holds for writing fails the
** step); the fd, and with it the lock, is the init's (or, without one,
** the command's) for the sandbox's life.  POSIX locks belong to the
** process's fd table: the command's copy closing them leaves ours. */
static void take_locks (plan *p) {
  size_t i;
  for (i = 0; i < p->nlocks; i++) {
    struct flock l;
    int err, fd = open(p->locks[i], O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      fail(p, "lock", errno, NULL, "open", p->locks[i], NULL);
    memset(&l, 0, sizeof l);
    l.l_type = F_RDLCK;
    l.l_whence = SEEK_SET;
    if (fcntl(fd, F_SETLK, &l) != 0) {
      err = errno;
      close(fd);
      fail(p, "lock", err, NULL, "fcntl", p->locks[i], NULL);
    }
    p->keep[p->nkeep++] = fd;
    if (!p->init)
      nslua_exec_keep(p->exec, fd);
  }
}

/*
** userns.disable, bwrap's way: the limit of user namespaces in the
** sandbox's own user namespace becomes 1, and the nested one the command
** runs in (made next) takes it.  The kernel charges a new user namespace
** to every ancestor's count (inc_ucount walks up from the creator's
** namespace), so nothing inside the nested one can make another, and
** raising max_user_namespaces in there changes only the nested one's
** limit, never ours.  The sysctl belongs to the writer's user namespace
** whatever proc it goes through (set_lookup in kernel/ucount.c): here the
** host's proc, before the pivot.
*/
static void limit_userns (const plan *p) {
  const char *path = p->has_mounts ? OLD_ROOT "/proc/sys/user/max_user_namespaces"
                                   : "/proc/sys/user/max_user_namespaces";
  int err;
  if (!p->userns_disable)
    return;
  if ((err = nslua_write_text(path, "1")) != 0)
    fail(p, "userns", err, NULL, "write", "/proc/sys/user/max_user_namespaces", NULL);
}

#define PROBE_FAILED 255

/*
** userns.assert_disabled (and the check after userns.disable): a
** throwaway child takes the command's user namespace ('userns', or ours
** when -1) and ids and tries unshare(CLONE_NEWUSER); only it changes.
** ENOSPC (a max_user_namespaces limit), EPERM (policy) and EUSERS (the
** nesting depth) are refusals; success fails set-up with bwrap's words.
*/
static void probe_userns (const plan *p, int userns) {
  int st = 0, code;
  pid_t c = (pid_t)syscall(SYS_clone, SIGCHLD, NULL, NULL, NULL, NULL);
  if (c < 0)
    fail(p, "userns", errno, NULL, "clone", "probe", NULL);
  if (c == 0) {
    if ((userns >= 0 && setns(userns, CLONE_NEWUSER) != 0) ||
        (p->exec_gid >= 0 && setresgid((gid_t)p->exec_gid, (gid_t)p->exec_gid,
                                       (gid_t)p->exec_gid) != 0) ||
        (p->exec_uid >= 0 && setresuid((uid_t)p->exec_uid, (uid_t)p->exec_uid,
                                       (uid_t)p->exec_uid) != 0))
      _exit(PROBE_FAILED);
    if (unshare(CLONE_NEWUSER) == 0)
      _exit(0);
    _exit(errno > 0 && errno < PROBE_FAILED ? errno : PROBE_FAILED);
  }
  while (waitpid(c, &st, 0) < 0)
    if (errno != EINTR)
      fail(p, "userns", errno, NULL, "waitpid", "probe", NULL);
  code = WIFEXITED(st) ? WEXITSTATUS(st) : PROBE_FAILED;
  if (code == 0)
    fail_msg(p, "userns", 0, "creation of new user namespaces was not disabled as requested");
  if (code != ENOSPC && code != EPERM && code != EUSERS)
    fail(p, "userns", code == PROBE_FAILED ? ECHILD : code, NULL, "unshare", "probe", NULL);
}

/*
** plan.oom_score_adj of process 'pid' (0: ourselves); 0 or an errno.
** A value below the process's oom_score_adj_min (what it had when the
** last CAP_SYS_RESOURCE holder set it) needs CAP_SYS_RESOURCE in the
** initial user namespace (EACCES otherwise, proc(5)), which a sandbox's
** child never has: setup.clone writes it from the parent, after the
** clone and before the release, so a privileged caller may lower it and
** a rootless one raise it.
*/
static int write_oom (const plan *p, pid_t pid) {
  char path[48], text[16];
  if (pid > 0)
    snprintf(path, sizeof path, "/proc/%d/oom_score_adj", (int)pid);
  else
    snprintf(path, sizeof path, "/proc/self/oom_score_adj");
  snprintf(text, sizeof text, "%d", p->oom_score_adj);
  return nslua_write_text(path, text);
}

/*
** plan.time: a time namespace of our own.  run_plan unshares it before
** the release, and its offsets are written while no process is in it
** (time_namespaces(7)) by the parent, to /proc/PID/timens_offsets (never by
** us: a clone made as the slot's owner, or into a joined user namespace, is
** non-dumpable from birth, so our /proc files are root's, and turning
** dumpable would let that namespace's owner ptrace a host-uid-0 process);
** setup.run, which has no parent, writes its own.  After the release we
** enter it: the command shares our memory until its execve (CLONE_VM),
** which the kernel allows only within one time namespace, and it and the
** init read the sandbox's clocks (the parent takes the monotonic offset
** off the times they report).
*/
static void enter_time_ns (const plan *p) {
  int fd, err;
  if (p->oom_self && p->time_offsets != NULL &&
      (err = nslua_write_text("/proc/self/timens_offsets", p->time_offsets)) != 0)
    fail(p, "time", err, NULL, "write", "/proc/self/timens_offsets", NULL);
  fd = open("/proc/self/ns/time_for_children", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    fail(p, "time", errno, NULL, "open", "/proc/self/ns/time_for_children", NULL);
  if (setns(fd, CLONE_NEWTIME) != 0) {
    err = errno;
    close(fd);
    fail(p, "time", err, NULL, "setns", "time", NULL);
  }
  close(fd);
}

/* The child's whole set-up, then the init: never returns. */
static void run_plan (plan *p) __attribute__((noreturn));
/*
** plan.host_mnt (OCI: a config without a mount namespace, runc's "no
** NEWNS"): the set-up ran in a mount namespace of our own as always; its
** root, cloned as a detached tree (open_tree OPEN_TREE_CLONE|AT_RECURSIVE),
** becomes our root in the caller's mount namespace, which gets none of
** our mounts (runc makes them in the host's: they outlive the container).
** setns(CLONE_NEWNS) resets root and cwd, so fchdir and chroot follow.
*/
static void enter_host_mnt (plan *p) {
  int tree = (int)syscall(SYS_open_tree, AT_FDCWD, "/",
                          OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
  if (tree < 0)
    fail(p, "pivot", errno, NULL, "open_tree", "/", NULL);
  if (setns(p->host_mnt_fd, CLONE_NEWNS) != 0)
    fail(p, "pivot", errno, NULL, "setns", "mnt", NULL);
  if (fchdir(tree) != 0 || chroot(".") != 0 || chdir("/") != 0)
    fail(p, "pivot", errno, NULL, "chroot", "/", NULL);
  close(tree);
  close_host_mnt(p);
}

static void run_plan (plan *p) {
  struct pollfd pf;
  char b = 0;
  size_t i;
  int cmd, err, userns = -1;
  exec_late *late = NULL;

  /* /proc/1/cmdline and comm inside: never the caller's command line */
  nslua_set_title("nslua-init");
  if (p->sync_close >= 0)
    close(p->sync_close);
  /* our time namespace, for the parent to write its offsets before the
  ** release (enter_time_ns) */
  if (p->time_ns && unshare(CLONE_NEWTIME) != 0)
    fail(p, "time", errno, NULL, "unshare", "time", NULL);
  /* 1. wait for the release; end of file means the parent died */
  if (read(p->sync_fd, &b, 1) != 1 || b != 'x')
    _exit(1);
  /* the namespaces the clone's helper joined for us: their fds are done */
  close_joins(p);
  if (p->time_ns)
    enter_time_ns(p);
  /* setup.run (no parent wrote it): while still dumpable, before the ids */
  if (p->oom_self && p->has_oom && (err = write_oom(p, 0)) != 0)
    fail(p, "ids", err, NULL, "write", "/proc/self/oom_score_adj", NULL);
  /* plan.sync.userns_block_fd: our user namespace exists; the caller may
  ** write its id maps now (before we are non-dumpable: see below) */
  if (p->userns_block_fd >= 0)
    block_on(p, p->userns_block_fd, "userns_block_fd");
  /* Non-dumpable from here until the command's execve (DESIGN "Trust
  ** rules"; runc CVE-2016-9962): the flag belongs to the mm, which the
  ** command shares (CLONE_VM) until its execve and the init keeps, so the
  ** payload can never ptrace or open /proc/PID/mem of this copy of the
  ** caller's memory.  Not before the release: a rootless parent writes
  ** our id maps, and a non-dumpable task's /proc files belong to root. */
  if (prctl(PR_SET_DUMPABLE, 0UL, 0, 0, 0) != 0)
    fail(p, "ids", errno, NULL, "prctl", "dumpable", NULL);
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
  /* a keyring of our own, charged to the sandbox's ids (after the switch):
  ** the caller's session keyring and its keys stay out of reach */
  if ((err = nslua_new_session_keyring()) != 0)
    fail(p, "ids", err, NULL, "keyctl", "join_session_keyring", NULL);
  /* 4. (session "keep": the caller's session and process group) */
  if (p->new_session && setsid() < 0)
    fail(p, "ids", errno, NULL, "setsid", NULL, NULL);
  stop_here(p, STOP_UTS);
  if (p->hostname != NULL && sethostname(p->hostname, strlen(p->hostname)) != 0)
    fail(p, "uts", errno, NULL, "sethostname", p->hostname, NULL);
  if (p->domainname != NULL && setdomainname(p->domainname, strlen(p->domainname)) != 0)
    fail(p, "uts", errno, NULL, "setdomainname", p->domainname, NULL);
  stop_here(p, STOP_NET);
  {
    const char *call = NULL, *subject = NULL, *prefix = NULL;
    if ((err = net_steps(p, &call, &subject, &prefix)) != 0)
      fail(p, "net", err, prefix, call, subject, NULL);
  }
  stop_here(p, STOP_MOUNTS);
  if (p->has_mounts) {
    nslua_steps_enter(p->status_fd, p->scaffold_size);
    nslua_steps_run(p->steps, p->nsteps, p->strict, p->scratch, p->status_fd);
  }
  if (p->tty)
    open_tty(p);
  run_hook(p, HOOK_PIVOT);
  stop_here(p, STOP_PIVOT);
  limit_userns(p);
  /* The nested user namespace of a payload that keeps capabilities: it
  ** owns no mount or UTS namespace, so even CAP_SYS_ADMIN there cannot
  ** undo masks or read-only mounts.  The command joins it before its ids.
  ** Made before the pivot, through the host's proc: the new root may have
  ** no proc, or one of another pid namespace (a bind of the host's /). */
  if (p->nested_uid_map != NULL) {
    const char *call = NULL;
    if ((userns = nslua_userns_mapped(p->has_mounts ? OLD_ROOT "/proc" : "/proc",
                                      p->nested_uid_map, p->nested_gid_map, &call)) < 0)
      fail(p, "userns", -userns, NULL, call, NULL, NULL);
    nslua_exec_set_userns(p->exec, userns);
  }
  if (p->has_mounts)
    nslua_steps_finish(p->status_fd);
  if (p->guard_fan >= 0) {
    guard_marks(p);
    p->keep[p->nkeep++] = p->guard_fan;
    p->keep[p->nkeep++] = p->guard_pidfd;
  }
  /* plan.rootfs_propagation: the new root's, once it is "/" (runc's) */
  if (p->root_prop != 0 && mount(NULL, "/", NULL, p->root_prop, NULL) != 0)
    fail(p, "pivot", errno, NULL, "mount", "/", NULL);
  if (p->host_mnt_own)
    enter_host_mnt(p);
  take_locks(p);
  run_hook(p, HOOK_EXEC);
  stop_here(p, STOP_FORK);
  /* userns.after (bwrap --userns2): the command ends in the caller's namespace */
  if (p->userns_after >= 0)
    nslua_exec_set_userns(p->exec, p->userns_after);
  if (p->userns_disable || p->userns_assert)
    probe_userns(p, p->userns_after >= 0 ? p->userns_after : userns);
  /* plan.detach: parked here, the container must outlive nslua (an OCI
  ** "created" container, which `start` releases through block_fd).  The
  ** parent-death signal goes, then a parent already gone ends us, then
  ** the pid record tells nslua we are parked: set-up is complete. */
  if (p->detach) {
    if (prctl(PR_SET_PDEATHSIG, 0UL, 0, 0, 0) != 0)
      fail(p, "sync", errno, NULL, "prctl", "pdeathsig", NULL);
    pf.fd = p->sync_fd;
    pf.events = POLLIN;
    pf.revents = 0;
    while ((err = poll(&pf, 1, 0)) < 0 && errno == EINTR)
      ;
    if (err < 0)
      fail(p, "sync", errno, NULL, "poll", "sync", NULL);
    if (err > 0 && (pf.revents & POLLHUP))
      _exit(1);
    if ((err = nslua_exec_join_cgroups(p->exec)) != 0)
      fail(p, "sync", err, NULL, "write", "cgroup.procs", NULL);
    nslua_status_pid(p->status_fd, (pid_t)syscall(SYS_getpid));
  }
  if (p->block_fd >= 0)
    block_on(p, p->block_fd, "block_fd");
  /* plan.sync.sync_fd: its end of file tells the caller the sandbox ended */
  if (p->caller_sync >= 0 && p->init)
    p->keep[p->nkeep++] = p->caller_sync;
  /* plan.init = false: no init, this process becomes the command (in a pid
  ** namespace its pid 1); the parent waits for it itself */
  if (!p->init) {
    if (p->caller_sync >= 0)
      nslua_exec_keep(p->exec, p->caller_sync);
    if (!p->detach)
      nslua_status_pid(p->status_fd, (pid_t)syscall(SYS_getpid));
    nslua_exec_child(p->exec, p->stdio);
  }
  /* 5. the command, then the init */
  cmd = nslua_spawn(p->exec, p->stdio, &late);
  if (cmd < 0)
    fail(p, "fork", errno, NULL, "clone", NULL, NULL);
  if (userns >= 0)
    close(userns);
  for (i = 0; i < 3; i++)
    if (p->stdio[i] > 2 && (i == 0 || p->stdio[i] != p->stdio[i - 1]))
      close(p->stdio[i]);
  /* the command's clock: from its exec tail (not from when we next run) */
  nslua_status_pid_at(p->status_fd, cmd, late != NULL ? late->start_ns : 0);
  nslua_init_run(cmd, p->status_fd, p->keep, p->nkeep, late, !p->new_session, p->guard_pidfd);
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
  plan *p = (plan *)luaL_checkudata(L, 1, NSLUA_SETUP);
  lua_settop(L, 1);
  p->L = L;
  p->oom_self = 1;
  plan_child(p);
  return 0;
}

/* Only the pages a child touches are ever allocated (MAP_NORESERVE); a
** Lua hook in the child needs more than the C steps. */
#define CHILD_STACK (1024 * 1024)

/*
** Who owns the sandbox's user namespace, and why it is not us.  The owner
** of a user namespace is the euid of the process that creates it, and the
** kernel charges per-user quotas at each level of the user namespace tree
** to the owner of the namespace below: inotify instances and watches,
** fanotify groups and marks, every kind of namespace (inc_ucount in
** kernel/ucount.c), and the RLIMIT_MSGQUEUE, RLIMIT_SIGPENDING and
** RLIMIT_MEMLOCK counts (inc_rlimit_ucounts).  A namespace created by root
** charges all of its payload's use to host root, so one sandbox could fill
** root's 128 inotify instances or 800 KiB of message queues.  Created with
** the slot's euid (plan.identity.owner), the charges go to the slot's own
** uid, which no one else uses.  The parent stays root for everything else:
** the clone is the only call made with that euid (signals blocked), and
** what the change costs is given back after it: the euid, the effective
** capabilities (the change clears them; kept for the clone, so capable()
** checks of the host's userns policy, such as Debian's
** kernel.unprivileged_userns_clone, still see root), the dumpable flag and
** the parent-death signal (commit_creds resets both).  The child's
** securebits and capabilities are the new namespace's (set_cred_user_ns).
*/
typedef struct as_owner {
  struct __user_cap_header_struct hdr;
  struct __user_cap_data_struct caps[2];
  uid_t ruid, euid, suid;
  int dumpable, pdeath;
  pid_t ppid;
  sigset_t mask;
} as_owner;

static void owner_leave (as_owner *o) {
  int err = errno;
  /* cannot fail: the old euid is our real uid (root), or CAP_SETUID is permitted */
  (void)syscall(SYS_setresuid, -1, o->euid, -1);
  (void)syscall(SYS_capset, &o->hdr, o->caps);
  if (o->dumpable == 0 || o->dumpable == 1)
    (void)prctl(PR_SET_DUMPABLE, (unsigned long)o->dumpable, 0, 0, 0);
  if (o->pdeath > 0) {
    (void)prctl(PR_SET_PDEATHSIG, (unsigned long)o->pdeath, 0, 0, 0);
    if (getppid() != o->ppid)   /* the parent died while the signal was unset */
      (void)kill(getpid(), o->pdeath);
  }
  sigprocmask(SIG_SETMASK, &o->mask, NULL);
  errno = err;
}

/* Take 'owner' as our euid, keeping our effective capabilities; 0 or -1 (errno). */
static int owner_enter (as_owner *o, uid_t owner) {
  sigset_t all;
  int err;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, &o->mask);
  memset(&o->hdr, 0, sizeof o->hdr);
  o->hdr.version = _LINUX_CAPABILITY_VERSION_3;
  o->pdeath = 0;
  o->dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
  o->ppid = getppid();
  if (getresuid(&o->ruid, &o->euid, &o->suid) != 0 ||
      syscall(SYS_capget, &o->hdr, o->caps) != 0 ||
      prctl(PR_GET_PDEATHSIG, &o->pdeath, 0, 0, 0) != 0 ||
      syscall(SYS_setresuid, -1, owner, -1) != 0) {
    err = errno;
    sigprocmask(SIG_SETMASK, &o->mask, NULL);
    errno = err;
    return -1;
  }
  if (syscall(SYS_capset, &o->hdr, o->caps) != 0) {
    err = errno;
    owner_leave(o);
    errno = err;
    return -1;
  }
  return 0;
}

/* What the joining helpers tell their parent (a shared page). */
typedef struct joined {
  int pid, err, h2, inner;      /* inner: pid is the joined pid namespace's number */
  const char *what;             /* a literal: the same in every copy */
} joined;

/* linux/nsfs.h of Linux 6.10: a pid of the namespace of the fd, translated
** into the caller's (the thread-group leader's) */
#ifndef NS_GET_TGID_FROM_PIDNS
#define NS_GET_TGID_FROM_PIDNS _IOR(0xb7, 0x7, int)
#endif

/*
** The clone of a plan with plan.pidns_fd or plan.userns.fd (bwrap --pidns,
** --userns): a namespace joined with setns(2) is for good, and the
** caller must stay where it is, so a forked helper joins them (the pid
** namespace first if it can, while it holds our capabilities, else after
** the user namespace, as bwrap does: joining a pid namespace needs
** CAP_SYS_ADMIN in the caller's user namespace too, which a rootless
** caller has only in the joined one; setns of CLONE_NEWPID places the
** children, not the caller) and makes the
** clone with CLONE_PARENT: the child is ours, as in the plain clone (its
** pid, its wait status, its parent-death signal), born in the pid
** namespace joined and owned by the user namespace joined.  A new pid
** namespace (pid in 'flags') must be a child of the creator's active one
** (copy_pid_ns: EINVAL otherwise), so a second helper, itself ours through
** CLONE_PARENT, is born in the joined one and makes the clone; the pid it
** gets is that namespace's number, translated with NS_GET_TGID_FROM_PIDNS
** (Linux 6.10).  The helpers report over a shared page and exit.  Fork
** semantics throughout: the helper was forked anyway.
*/
static int clone_joined (lua_State *L, plan *p, unsigned long flags) {
  joined *j;
  int st = 0, pid, err;
  pid_t h;
  j = mmap(NULL, sizeof *j, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (j == MAP_FAILED)
    return nslua_fail(L, errno, "mmap", "joined");
  j->pid = -1;
  j->err = ECHILD;
  j->h2 = j->inner = 0;
  j->what = "clone";
  h = (pid_t)syscall(SYS_clone, SIGCHLD, NULL, NULL, NULL, NULL);
  if (h < 0) {
    err = errno;
    munmap(j, sizeof *j);
    return nslua_fail(L, err, "clone", "helper");
  }
  if (h == 0) {
    as_owner o;
    /* Non-dumpable before joining anything (DESIGN "Trust rules"): the
    ** child inherits it.  Not when the parent writes a new user
    ** namespace's maps as a caller without root (they would be root's). */
    if ((p->userns_fd >= 0 || !(flags & CLONE_NEWUSER) || geteuid() == 0) &&
        prctl(PR_SET_DUMPABLE, 0UL, 0, 0, 0) != 0) {
      j->err = errno;
      j->what = "prctl dumpable";
      _exit(1);
    }
    /* the pid namespace while we hold our capabilities (host root), else
    ** once in the joined user namespace (a rootless caller) */
    int pid_joined = p->pidns_fd >= 0 && setns(p->pidns_fd, CLONE_NEWPID) == 0;
    /* EINVAL: not a descendant of our user namespace (bwrap's hint) */
    j->what = "setns user";
    if (p->userns_fd >= 0 && setns(p->userns_fd, CLONE_NEWUSER) != 0) {
      j->err = errno;
      _exit(1);
    }
    j->what = "setns pid";
    if (p->pidns_fd >= 0 && !pid_joined && setns(p->pidns_fd, CLONE_NEWPID) != 0) {
      j->err = errno;
      _exit(1);
    }
    if (p->pidns_fd >= 0 && (flags & CLONE_NEWPID)) {
      pid_t h2;
      j->what = "clone helper";
      h2 = (pid_t)syscall(SYS_clone, CLONE_PARENT, NULL, NULL, NULL, NULL);
      if (h2 < 0) {
        j->err = errno;
        _exit(1);
      }
      if (h2 > 0) {             /* the rest is the second helper's to report */
        j->h2 = h2;
        _exit(0);
      }
      j->inner = 1;
    }
    /* plan.join_paths, after the user namespace (runc's order: what a
    ** joined user namespace owns is joinable only from inside it) */
    for (size_t k = 0; k < p->njoin; k++) {
      size_t w;
      for (w = 0; join_clone[w] != p->join_types[k]; w++)
        ;
      j->what = join_what[w];
      if (setns(p->join_fds[k], p->join_types[k]) != 0) {
        j->err = errno;
        _exit(1);
      }
    }
    j->what = "setresuid owner";
    if (p->owner >= 0 && (flags & CLONE_NEWUSER) && owner_enter(&o, (uid_t)p->owner) != 0) {
      j->err = errno;
      _exit(1);
    }
    j->what = "clone";
    pid = (int)syscall(SYS_clone, (flags & ~0xffUL) | CLONE_PARENT, NULL, NULL, NULL, NULL);
    if (pid == 0)
      plan_child(p);
    j->err = pid < 0 ? errno : 0;
    j->pid = pid;
    _exit(0);
  }
  while (waitpid(h, &st, 0) < 0 && errno == EINTR)
    ;
  if (j->h2 > 0)
    while (waitpid(j->h2, &st, 0) < 0 && errno == EINTR)
      ;
  pid = j->pid;
  err = j->err;
  lua_pushstring(L, j->what);
  if (pid > 0 && j->inner) {
    /* the child waits for its release: unreleased, it ends by itself */
    lua_pushliteral(L, "ioctl NS_GET_TGID_FROM_PIDNS");
    pid = ioctl(p->pidns_fd, NS_GET_TGID_FROM_PIDNS, (unsigned long)pid);
    err = errno;
  }
  munmap(j, sizeof *j);
  if (pid <= 0)
    return nslua_fail(L, pid < 0 ? err : ESRCH, lua_tostring(L, -1), NULL);
  lua_pushinteger(L, pid);
  return 1;
}

/*
** After a clone that pushed 'nret' results (pid, or the failure triple):
** the parent's steps on the waiting child, plan.oom_score_adj (see
** write_oom).  A failure kills and reaps the child, which was never
** released, and is the clone's failure.
*/
static int cloned (lua_State *L, const plan *p, int nret) {
  char path[48];
  pid_t pid;
  int err, st;
  if (nret != 1 || !p->has_oom)
    return nret;
  pid = (pid_t)lua_tointeger(L, -1);
  if ((err = write_oom(p, pid)) == 0)
    return 1;
  kill(pid, SIGKILL);
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
    ;
  snprintf(path, sizeof path, "/proc/%d/oom_score_adj", (int)pid);
  return nslua_fail(L, err, "write", path);
}

/*
** setup.clone(plan, flags) -> pid | nil, msg, errno
** Clone a child with the namespaces in 'flags' (ns.clone's names; fork
** semantics otherwise) that runs the plan: it never returns into Lua and
** runs on a stack of its own that this process never touched, so the
** pages it writes are new ones rather than copy-on-write copies of ours
** (each copy costs a TLB shootdown: ~1.5 ms of a child's start here).
** With a user namespace and plan.identity.owner, the clone is made with
** that euid (as_owner above).
*/
static int setup_clone (lua_State *L) {
  plan *p = (plan *)luaL_checkudata(L, 1, NSLUA_SETUP);
  unsigned long flags = nslua_checkflags(L, 2, nslua_ns_flags);
  char *stack;
  int pid, err, owned;
  as_owner o;
  luaL_argcheck(L, !(flags & CLONE_NEWTIME), 2, "'time' is not a clone flag");
  lua_settop(L, 2);
  p->L = L;
  nslua_check_single_thread(L, "setup.clone");
  if (p->pidns_fd >= 0 || p->userns_fd >= 0 || p->njoin > 0)
    return cloned(L, p, clone_joined(L, p, flags));
  owned = p->owner >= 0 && (flags & CLONE_NEWUSER);
#if defined(NSLUA_ASAN)
  /* `make sanitize`: fork semantics (see nslua.h) */
  (void)stack;
  if (owned && owner_enter(&o, (uid_t)p->owner) != 0)
    return nslua_fail(L, errno, "setresuid", "owner");
  pid = (int)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
  if (pid == 0)
    plan_child(p);
  err = errno;
  if (owned)
    owner_leave(&o);
  errno = err;
#else
  stack = mmap(NULL, CHILD_STACK, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED)
    return nslua_fail(L, errno, "mmap", "stack");
  if (owned && owner_enter(&o, (uid_t)p->owner) != 0) {
    err = errno;
    munmap(stack, CHILD_STACK);
    return nslua_fail(L, err, "setresuid", "owner");
  }
  pid = clone(plan_child, stack + CHILD_STACK, (int)flags | SIGCHLD, p);
  err = errno;
  if (owned)
    owner_leave(&o);
  munmap(stack, CHILD_STACK);   /* ours only: the child has its own copy */
  errno = err;
#endif
  if (pid < 0)
    return nslua_fail(L, errno, "clone", NULL);
  lua_pushinteger(L, pid);
  return cloned(L, p, 1);
}

/*
** setup.net(net) -> true | nil, msg, errno
** The executor's network guest steps (plan.net: lo, addrs, up, routes) in
** the calling process's network namespace: the same code the child runs,
** for a caller that prepares a namespace itself (and for tests).
*/
static int setup_net (lua_State *L) {
  plan *p;
  const char *call = NULL, *subject = NULL, *prefix = NULL;
  int err;
  char what[256];
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  lua_newtable(L);                                       /* 2: {net = arg} */
  lua_pushvalue(L, 1);
  lua_setfield(L, 2, "net");
  p = (plan *)lua_newuserdatauv(L, sizeof *p, 0);        /* 3 */
  memset(p, 0, sizeof *p);
  lua_newtable(L);                                       /* 4 */
  lua_newtable(L);                                       /* 5 */
  lua_newtable(L);                                       /* 6: anchors */
  read_net(L, p, 2);
  if ((err = net_steps(p, &call, &subject, &prefix)) == 0)
    return nslua_ok(L);
  snprintf(what, sizeof what, "%s%s%s", prefix ? prefix : "", prefix ? ": " : "", call);
  return nslua_fail(L, err, what, subject);
}

static const luaL_Reg setup_funcs[] = {
  {"clone", setup_clone},
  {"net", setup_net},
  {"plan", setup_plan},
  {"run", setup_run},
  {NULL, NULL}
};

int nslua_open_setup (lua_State *L) {
  luaL_newmetatable(L, NSLUA_SETUP);
  lua_pushliteral(L, "nslua.setup plan");
  lua_setfield(L, -2, "__name");
  lua_pushcfunction(L, setup_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  luaL_newlib(L, setup_funcs);
  return 1;
}
