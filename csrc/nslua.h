/* nslua.h - private header: failure triple, flag sets, fd boxes, openers. */
/* SPDX-License-Identifier: MIT */
#ifndef NSLUA_H
#define NSLUA_H

#include <lauxlib.h>
#include <lua.h>
#include <sys/resource.h>
#include <sys/types.h>

/* AddressSanitizer (gcc defines __SANITIZE_ADDRESS__, clang has the
** feature test): it cannot follow a child onto a stack of its own, so the
** sanitizer build clones with fork semantics instead. */
#if defined(__SANITIZE_ADDRESS__)
#define NSLUA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NSLUA_ASAN 1
#endif
#endif

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

/* util.c: plain fd helpers (no Lua state; a child may call them before
** exec).  Each returns 0 or an errno; *what names the failing call. */
int nslua_openpty (const char *ptmx, int *master, int *slave, unsigned int *n,
                   const char **what);
int nslua_sendfd (int sock, int fd);
int nslua_write_text (const char *path, const char *text);

/* ns.c: namespace names as CLONE_NEW* bits; raises when the process has
** more than one thread (fork semantics would lose them). */
extern const nslua_flag nslua_ns_flags[];
void nslua_check_single_thread (lua_State *L, const char *what);
/* ns.c: a child user namespace with the given map texts, as an fd; or
** -errno with *what naming the call.  No Lua state (the executor's). */
int nslua_userns_mapped (const char *uid_map, const char *gid_map, const char **what);

/* mount.c: named flags of mount(2) and of mount_setattr(2) attributes. */
extern const nslua_flag nslua_mnt_flags[];
extern const nslua_flag nslua_mnt_attr_flags[];
/* mount.c: the file steps of a root's construction.  Each returns 0 or an
** errno and names in *what the call ("mkdir", "open", "write", ...) and in
** *subject the path that failed (mkdir -p: the component). */
int nslua_mkdir_p (char *path, unsigned int mode, const char **subject);
int nslua_mkfile (const char *path, unsigned int mode, const char **what);
int nslua_write_file (const char *path, const char *content, size_t len,
                      unsigned int mode, const char **what);
/* mount.c: mount_setattr of 'path' (dfd AT_FDCWD) or of fd 'dfd' (path ""). */
int nslua_setattr (int dfd, const char *path, unsigned long long set,
                   unsigned long long clr, int userns, int rec);

/* core.proc is spread over proc.c (which registers the others), fds.c,
** exec.c, spawn.c and init.c; each part's Lua functions: */
extern const luaL_Reg nslua_proc_exec_funcs[];
extern const luaL_Reg nslua_proc_fds_funcs[];
extern const luaL_Reg nslua_proc_init_funcs[];
extern const luaL_Reg nslua_proc_spawn_funcs[];

/* proc.c: every signal disposition back to SIG_DFL (no lua_State). */
void nslua_reset_dispositions (void);
/* proc.c: a list of gids in the table at 'idx' into GC-owned memory (left
** on the stack); *n gets the count; errors name argument 'arg' and 'what'. */
gid_t *nslua_check_gids (lua_State *L, int idx, int arg, size_t *n, const char *what);
/* proc.c: rlimit names ("nofile", ...; NULL-ended) and their RLIMIT_*. */
extern const char *const nslua_rlimit_names[];
extern const int nslua_rlimit_res[];
/* proc.c: a limit at 'idx' (non-negative integer or math.huge) into *v; 0 if not. */
int nslua_to_rlim (lua_State *L, int idx, rlim_t *v);

/* fds.c: close every fd >= 3 not in keep[0..n) (sorted in place); 0 or -1
** (errno).  No lua_State: safe in the fixed sequences. */
int nslua_close_fds_except (int *keep, int n);
/* fds.c: an fd box or integer at the top of the stack (a table field);
** errors name argument 'arg' and 'what'. */
int nslua_field_fd (lua_State *L, int arg, const char *what);

/* exec.c: the exec tail.  nslua_exec_plan reads proc.exec's argv, env and
** opts tables at stack indices 1, 2 and 3; the userdata and what it points
** into are left on the stack above them.  nslua_exec_args checks 1..3
** first (opts may be none or nil) and names 'what' in a stack overflow. */
typedef struct exec_plan exec_plan;
exec_plan *nslua_exec_plan (lua_State *L);
/* The fd of a user namespace the command joins before its ids (-1: none). */
void nslua_exec_set_userns (exec_plan *p, int fd);
exec_plan *nslua_exec_args (lua_State *L, const char *what);
/* exec.c: the fixed sequence (no Lua API call); never returns. */
void nslua_exec_run (exec_plan *p) __attribute__((noreturn));
/* exec.c: the "exec <step> <errno>[ <detail>]" status record, then _exit(1). */
void nslua_exec_fail (const exec_plan *p, const char *step, int err, const char *detail)
  __attribute__((noreturn));
/* exec.c: option tables.  Unknown names in the table at 'arg' raise; a list
** of fds in field 'name' into GC-owned memory left on the stack (NULL and
** nothing pushed when the field is nil). */
void nslua_check_opt_names (lua_State *L, int arg, const char *const *names);
const int *nslua_opt_fds (lua_State *L, int arg, const char *name, size_t *n);

/* spawn.c: proc.spawn's child: stdio[t] >= 0 is dup2'd onto t; pid or -1 (errno). */
int nslua_spawn (exec_plan *p, const int stdio[3]);
/* init.c: proc.init's loop: keep[0] and keep[1] are scratch for the status fd and
** the signalfd, keep[2..nkeep-1] the fds it keeps. */
void nslua_init_run (int cmd, int status_fd, int *keep, size_t nkeep)
  __attribute__((noreturn));

/* netlink: rtnetlink requests without a Lua state (the executor's guest
** steps): 0 or an errno, *what naming the call. */
int nslua_nl_link_up (const char *ifname, const char **what);
int nslua_nl_addr_add (const char *ifname, const char *cidr, const char **what);
int nslua_nl_route_add (const char *dst, const char *gateway, const char *dev, int family,
                        const char **what);

/* Subsystems: each csrc/<sub>.c pushes core.<sub>.  Weak, so nslua.c
** registers only the subsystems that are compiled in. */
int nslua_open_caps (lua_State *L) __attribute__((weak));
int nslua_open_cgroup (lua_State *L) __attribute__((weak));
int nslua_open_mount (lua_State *L) __attribute__((weak));
int nslua_open_netlink (lua_State *L) __attribute__((weak));
int nslua_open_ns (lua_State *L) __attribute__((weak));
int nslua_open_proc (lua_State *L) __attribute__((weak));
int nslua_open_seccomp (lua_State *L) __attribute__((weak));
int nslua_open_setup (lua_State *L) __attribute__((weak));

#pragma GCC visibility pop

#endif
