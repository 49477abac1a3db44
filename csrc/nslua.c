/* nslua.c - luaopen_nslua_core: one table per subsystem, nothing else. */
/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <seccomp.h>
#include <sys/capability.h>

#include "nslua.h"

/* libmnl has no version API and no version macro: the Makefile passes
** what pkg-config says at build time (empty or absent: unknown). */
#ifndef NSLUA_LIBMNL_VERSION
#define NSLUA_LIBMNL_VERSION ""
#endif

#define NSLUA_STR_(x) #x
#define NSLUA_STR(x) NSLUA_STR_(x)

#define NSLUA_EXPORT __attribute__((visibility("default")))

/* The openers are weak: a subsystem whose file is not compiled in is
** simply absent from the table. */
static const struct {
  const char *name;
  lua_CFunction open;
} subsystems[] = {
  {"caps", nslua_open_caps},
  {"cgroup", nslua_open_cgroup},
  {"landlock", nslua_open_landlock},
  {"mount", nslua_open_mount},
  {"netlink", nslua_open_netlink},
  {"nft", nslua_open_nft},
  {"notify", nslua_open_notify},
  {"ns", nslua_open_ns},
  {"proc", nslua_open_proc},
  {"seccomp", nslua_open_seccomp},
  {"setup", nslua_open_setup},
};

static const struct {
  const char *name;
  int value;
} errnos[] = {
#define E(x) {#x, x}
  E(E2BIG), E(EACCES), E(EADDRINUSE), E(EADDRNOTAVAIL), E(EAFNOSUPPORT), E(EAGAIN), E(EBADF),
  E(EBUSY), E(ECHILD), E(ECONNREFUSED), E(EEXIST), E(EFAULT), E(EINTR),
  E(EINVAL), E(EIO), E(EISDIR), E(ELOOP), E(EMFILE), E(ENAMETOOLONG),
  E(ENETUNREACH), E(ENODEV), E(ENOENT), E(ENOEXEC), E(ENOMEM), E(ENOSPC),
  E(ENOSYS), E(ENOTDIR), E(ENOTEMPTY), E(ENOTSUP), E(ENXIO), E(EOPNOTSUPP),
  E(EOVERFLOW), E(EPERM), E(EPIPE), E(ERANGE), E(EROFS), E(ESPIPE), E(ESRCH), E(ESTALE),
  E(ETIMEDOUT), E(EUSERS), E(EXDEV),
#undef E
};

NSLUA_EXPORT int luaopen_nslua_core (lua_State *L);

NSLUA_EXPORT int luaopen_nslua_core (lua_State *L) {
  size_t i;
  luaL_checkversion(L);
  nslua_open_fd(L);
  lua_newtable(L);
  for (i = 0; i < sizeof subsystems / sizeof subsystems[0]; i++) {
    if (subsystems[i].open == NULL)
      continue;
    subsystems[i].open(L);
    lua_setfield(L, -2, subsystems[i].name);
  }
  lua_createtable(L, 0, (int)(sizeof errnos / sizeof errnos[0]));
  for (i = 0; i < sizeof errnos / sizeof errnos[0]; i++) {
    lua_pushinteger(L, errnos[i].value);
    lua_setfield(L, -2, errnos[i].name);
  }
  lua_setfield(L, -2, "errno");
  lua_pushliteral(L, "0.1.0");
  lua_setfield(L, -2, "_VERSION");
  /* core._BUILD: the library versions nslua was compiled against
  ** (seccomp.version() is libseccomp's at run time) */
  lua_createtable(L, 0, 3);
  lua_pushliteral(L, NSLUA_STR(LIBCAP_MAJOR) "." NSLUA_STR(LIBCAP_MINOR));
  lua_setfield(L, -2, "libcap");
  lua_pushliteral(L, NSLUA_LIBMNL_VERSION);
  lua_setfield(L, -2, "libmnl");
  lua_pushliteral(L, NSLUA_STR(SCMP_VER_MAJOR) "." NSLUA_STR(SCMP_VER_MINOR) "."
                  NSLUA_STR(SCMP_VER_MICRO));
  lua_setfield(L, -2, "libseccomp");
  lua_setfield(L, -2, "_BUILD");
  return 1;
}
