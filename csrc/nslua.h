/* nslua.h - private header: failure triple, flag sets, fd boxes, openers. */
/* SPDX-License-Identifier: MIT */
#ifndef NSLUA_H
#define NSLUA_H

#include <lauxlib.h>
#include <lua.h>

/* Every cross-file symbol is hidden: core.so exports luaopen_nslua_core only. */
#pragma GCC visibility push(hidden)

#define NSLUA_FD "nslua.fd"

typedef struct nslua_flag {
  const char *name;
  unsigned long bits;
} nslua_flag;

/* nil, "what 'arg': strerror(err)", err  (arg may be NULL) */
int nslua_fail (lua_State *L, int err, const char *what, const char *arg);
/* true */
int nslua_ok (lua_State *L);

/* A set table {net = true} at 'arg' as a bit mask; unknown names raise. */
unsigned long nslua_checkflags (lua_State *L, int arg, const nslua_flag *tab);
/* Same, but nil or none gives 0. */
unsigned long nslua_optflags (lua_State *L, int arg, const nslua_flag *tab);

/* fd boxes: created closed (-1) before the descriptor is opened. */
int *nslua_newfd (lua_State *L);
/* An open fd box or a non-negative integer at 'arg'; raises otherwise. */
int nslua_checkfd (lua_State *L, int arg);
/* Like nslua_checkfd, but none or nil gives 'def'. */
int nslua_optfd (lua_State *L, int arg, int def);
/* Registers the "nslua.fd" metatable. */
void nslua_open_fd (lua_State *L);

/* Subsystems: each csrc/<sub>.c pushes core.<sub>.  Weak, so nslua.c
** registers only the subsystems that are compiled in. */
int nslua_open_caps (lua_State *L) __attribute__((weak));
int nslua_open_cgroup (lua_State *L) __attribute__((weak));
int nslua_open_mount (lua_State *L) __attribute__((weak));
int nslua_open_netlink (lua_State *L) __attribute__((weak));
int nslua_open_ns (lua_State *L) __attribute__((weak));
int nslua_open_proc (lua_State *L) __attribute__((weak));
int nslua_open_seccomp (lua_State *L) __attribute__((weak));

#pragma GCC visibility pop

#endif
