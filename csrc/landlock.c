/* landlock.c - core.landlock: the kernel's ABI, and a ruleset the exec tail applies. */
/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "nslua.h"
#include "status.h"

/*
** The uapi of <linux/landlock.h> as of ABI 7.  Debian 12's header stops
** at ABI 2 (no TRUNCATE, no network rules), so the values are spelled out
** here; they are kernel ABI and never change.  The ruleset attribute may
** be passed whole to an older kernel: it reads what it knows and checks
** that the rest is zero (copy_struct_from_user), so a zero handled_access_net
** or scoped is fine on ABI 1.
*/
#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#define __NR_landlock_add_rule 445
#define __NR_landlock_restrict_self 446
#endif

#define LL_CREATE_RULESET_VERSION (1U << 0)
#define LL_RULE_PATH_BENEATH 1
#define LL_RULE_NET_PORT 2

struct ll_ruleset_attr {
  uint64_t handled_access_fs;
  uint64_t handled_access_net;
  uint64_t scoped;
};

struct ll_path_beneath_attr {
  uint64_t allowed_access;
  int32_t parent_fd;
} __attribute__((packed));

struct ll_net_port_attr {
  uint64_t allowed_access;
  uint64_t port;
};

/* Filesystem rights (LANDLOCK_ACCESS_FS_*); IOCTL_DEV (ABI 5) is left
** out on purpose: handling it refuses ioctls on device files opened
** later, and a command's own tty (isatty, TIOCGWINSZ) is one. */
static const nslua_flag ll_fs_flags[] = {
  {"execute", 1UL << 0}, {"write_file", 1UL << 1}, {"read_file", 1UL << 2},
  {"read_dir", 1UL << 3}, {"remove_dir", 1UL << 4}, {"remove_file", 1UL << 5},
  {"make_char", 1UL << 6}, {"make_dir", 1UL << 7}, {"make_reg", 1UL << 8},
  {"make_sock", 1UL << 9}, {"make_fifo", 1UL << 10}, {"make_block", 1UL << 11},
  {"make_sym", 1UL << 12}, {"refer", 1UL << 13}, {"truncate", 1UL << 14},
  {NULL, 0}
};

/* LANDLOCK_ACCESS_NET_* (ABI 4) */
static const nslua_flag ll_net_flags[] = {
  {"bind_tcp", 1UL << 0}, {"connect_tcp", 1UL << 1},
  {NULL, 0}
};

/* The rights a rule on a file (not a directory) may carry: the kernel
** refuses the others with EINVAL. */
#define LL_FILE_RIGHTS ((1ULL << 0) | (1ULL << 1) | (1ULL << 2) | (1ULL << 14))

/* A set table at the top of the stack as a mask; raises naming 'where'. */
static uint64_t ll_flags (lua_State *L, const nslua_flag *tab, const char *where) {
  uint64_t bits = 0;
  int i;
  if (lua_isnil(L, -1))
    return 0;
  if (!lua_istable(L, -1))
    luaL_error(L, "landlock: %s must be a set table", where);
  lua_pushnil(L);
  while (lua_next(L, -2) != 0) {
    const char *name = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
    if (name == NULL)
      luaL_error(L, "landlock: %s: right names must be strings", where);
    for (i = 0; tab[i].name != NULL && strcmp(tab[i].name, name) != 0; i++)
      ;
    if (tab[i].name == NULL)
      luaL_error(L, "landlock: %s: unknown right '%s'", where, name);
    if (lua_toboolean(L, -1))
      bits |= tab[i].bits;
    lua_pop(L, 1);
  }
  return bits;
}

/*
** Read a ruleset {fs = {right = true...}, net = {...}, rules = {{path =,
** access = {...}} | {port =, access = {...}}, ...}} at idx (other keys
** are ignored: a plan's rules carry their category for people).  The
** rules go into a userdata left on the stack (the caller anchors it);
** their paths point into the table's strings.  Misuse raises.
*/
void nslua_landlock_read (lua_State *L, int idx, nslua_landlock *ll) {
  size_t i, n;
  nslua_ll_rule *r;
  idx = lua_absindex(L, idx);
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_getfield(L, idx, "fs");
  ll->fs = ll_flags(L, ll_fs_flags, "fs");
  lua_pop(L, 1);
  lua_getfield(L, idx, "net");
  ll->net = ll_flags(L, ll_net_flags, "net");
  lua_pop(L, 1);
  if (ll->fs == 0 && ll->net == 0)
    luaL_error(L, "landlock: a ruleset handles at least one right");
  lua_getfield(L, idx, "rules");
  n = lua_istable(L, -1) ? (size_t)lua_rawlen(L, -1) : 0;
  if (!lua_isnil(L, -1) && !lua_istable(L, -1))
    luaL_error(L, "landlock: rules must be a list");
  r = (nslua_ll_rule *)lua_newuserdatauv(L, (n ? n : 1) * sizeof *r, 0);
  for (i = 0; i < n; i++) {
    char where[32];
    snprintf(where, sizeof where, "rules[%zu]", i + 1);
    if (lua_rawgeti(L, -2, (lua_Integer)i + 1) != LUA_TTABLE)
      luaL_error(L, "landlock: %s must be a table", where);
    r[i].path = NULL;
    r[i].port = -1;
    if (lua_getfield(L, -1, "path") == LUA_TSTRING) {
      r[i].path = lua_tostring(L, -1);
      if (r[i].path[0] != '/' || strlen(r[i].path) != lua_rawlen(L, -1))
        luaL_error(L, "landlock: %s.path must be an absolute path", where);
    } else if (!lua_isnil(L, -1)) {
      luaL_error(L, "landlock: %s.path must be a string", where);
    }
    lua_pop(L, 1);
    if (lua_getfield(L, -1, "port") != LUA_TNIL) {
      lua_Integer port = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : -1;
      if (port < 0 || port > 65535)
        luaL_error(L, "landlock: %s.port must be an integer 0..65535", where);
      r[i].port = (int)port;
    }
    lua_pop(L, 1);
    if ((r[i].path == NULL) == (r[i].port < 0))
      luaL_error(L, "landlock: %s needs a path or a port", where);
    lua_getfield(L, -1, "access");
    r[i].access = r[i].path ? ll_flags(L, ll_fs_flags, where) : ll_flags(L, ll_net_flags, where);
    lua_pop(L, 1);
    if ((r[i].access & ~(r[i].path ? ll->fs : ll->net)) != 0)
      luaL_error(L, "landlock: %s grants a right the ruleset does not handle", where);
    lua_pop(L, 1);
  }
  lua_remove(L, -2);            /* the rules table; the userdata stays */
  ll->rules = r;
  ll->nrules = n;
}

/*
** Build the ruleset and restrict the calling thread with it; 0 or errno
** with *what naming the call.  A path that does not open (missing in the
** sandbox, unreachable) only loses its allowance, which is fail-closed:
** "landlock <rule> <errno>" goes to status_fd (when >= 0) and the rule is
** skipped.  No allocation, no Lua: the exec tail calls it.  The caller has
** set no_new_privs or holds CAP_SYS_ADMIN in its user namespace
** (landlock_restrict_self(2)).
*/
int nslua_landlock_apply (const nslua_landlock *ll, int status_fd, const char **what) {
  struct ll_ruleset_attr attr;
  size_t i;
  int rfd, err = 0;

  memset(&attr, 0, sizeof attr);
  attr.handled_access_fs = ll->fs;
  attr.handled_access_net = ll->net;
  *what = "landlock_create_ruleset";
  rfd = (int)syscall(__NR_landlock_create_ruleset, &attr, sizeof attr, 0U);
  if (rfd < 0)
    return errno;
  for (i = 0; i < ll->nrules && err == 0; i++) {
    const nslua_ll_rule *r = &ll->rules[i];
    long rc;
    if (r->path != NULL) {
      struct ll_path_beneath_attr pb;
      struct stat st;
      int pfd = open(r->path, O_PATH | O_CLOEXEC);
      if (pfd < 0 || fstat(pfd, &st) != 0) {
        int e = errno;
        if (pfd >= 0)
          close(pfd);
        if (status_fd >= 0)
          (void)nslua_status_landlock(status_fd, i + 1, e);
        continue;
      }
      pb.allowed_access = S_ISDIR(st.st_mode) ? r->access : r->access & LL_FILE_RIGHTS;
      pb.parent_fd = pfd;
      rc = pb.allowed_access == 0 ? 0
        : syscall(__NR_landlock_add_rule, rfd, LL_RULE_PATH_BENEATH, &pb, 0U);
      if (rc != 0)
        err = errno;
      close(pfd);
    } else {
      struct ll_net_port_attr np;
      np.allowed_access = r->access;
      np.port = (uint64_t)r->port;
      if (syscall(__NR_landlock_add_rule, rfd, LL_RULE_NET_PORT, &np, 0U) != 0)
        err = errno;
    }
    if (err != 0)
      *what = "landlock_add_rule";
  }
  if (err == 0 && syscall(__NR_landlock_restrict_self, rfd, 0U) != 0) {
    err = errno;
    *what = "landlock_restrict_self";
  }
  close(rfd);
  return err;
}

/* landlock.abi() -> n | nil, msg, errno (ENOSYS: not built; EOPNOTSUPP: disabled at boot) */
static int landlock_abi (lua_State *L) {
  long v = syscall(__NR_landlock_create_ruleset, NULL, 0, LL_CREATE_RULESET_VERSION);
  if (v < 0)
    return nslua_fail(L, errno, "landlock_create_ruleset", NULL);
  lua_pushinteger(L, v);
  return 1;
}

/*
** landlock.restrict(ruleset) -> true, {skipped rule index, ...} | nil, msg, errno
** Restricts the calling process for good (tests run it in a child): sets
** no_new_privs first, as an unprivileged caller must.  A rule whose path
** does not open is skipped and listed.
*/
static int landlock_restrict (lua_State *L) {
  nslua_landlock ll;
  const char *what = NULL;
  int p[2], err;
  char buf[4096];
  ssize_t n;

  nslua_landlock_read(L, 1, &ll);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1UL, 0, 0, 0) != 0)
    return nslua_fail(L, errno, "prctl", "PR_SET_NO_NEW_PRIVS");
  if (pipe2(p, O_CLOEXEC) != 0)
    return nslua_fail(L, errno, "pipe2", NULL);
  err = nslua_landlock_apply(&ll, p[1], &what);
  close(p[1]);
  n = read(p[0], buf, sizeof buf - 1);
  close(p[0]);
  if (err != 0)
    return nslua_fail(L, err, what, NULL);
  lua_pushboolean(L, 1);
  lua_newtable(L);
  if (n > 0) {
    char *s = buf, *end;
    lua_Integer k = 1;
    buf[n] = '\0';
    while ((s = strstr(s, "landlock ")) != NULL) {
      unsigned long idx = strtoul(s + 9, &end, 10);
      lua_pushinteger(L, (lua_Integer)idx);
      lua_rawseti(L, -2, k++);
      s = end;
    }
  }
  return 2;
}

static const luaL_Reg landlock_funcs[] = {
  {"abi", landlock_abi},
  {"restrict", landlock_restrict},
  {NULL, NULL}
};

int nslua_open_landlock (lua_State *L) {
  luaL_newlib(L, landlock_funcs);
  return 1;
}
