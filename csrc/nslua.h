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

/* Code that runs under the command's seccomp filter (the last steps of the
** exec tail).  The sanitizer build's tail is a forked child with the ASan
** runtime, whose noreturn bookkeeping (sigaltstack) and reports (mmap) a
** filter may forbid: a failed execve then hung in ASan's CHECK instead of
** exiting.  Such code is left uninstrumented. */
#if defined(NSLUA_ASAN)
#define NSLUA_UNDER_FILTER __attribute__((no_sanitize("address")))
#else
#define NSLUA_UNDER_FILTER
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
int nslua_sendfd_msg (int sock, int fd, const char *data, size_t len);
int nslua_recvfd (int sock);
int nslua_write_text (const char *path, const char *text);

/* ns.c: namespace names as CLONE_NEW* bits; raises when the process has
** more than one thread (fork semantics would lose them). */
extern const nslua_flag nslua_ns_flags[];
void nslua_check_single_thread (lua_State *L, const char *what);
/* cgroup.c: a forked child that goes on running Lua drops its parent's kicks */
void nslua_kick_forget (void);
/* ns.c: a child user namespace with the given map texts, as an fd; or
** -errno with *what naming the call.  No Lua state (the executor's). */
int nslua_userns_mapped (const char *proc, const char *uid_map, const char *gid_map,
                         const char **what);

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
/* mount.c: openat2(dfd, path, flags | O_CLOEXEC) with RESOLVE_IN_ROOT |
** RESOLVE_NO_MAGICLINKS: 'dfd' is the root of the lookup, so ".." and
** absolute symlinks never leave it.  An fd, or -1 with errno set. */
int nslua_open_in_root (int dfd, const char *path, int flags);

/* core.proc is spread over proc.c (which registers the others), fds.c,
** exec.c, spawn.c and init.c; each part's Lua functions: */
extern const luaL_Reg nslua_proc_exec_funcs[];
extern const luaL_Reg nslua_proc_fds_funcs[];
extern const luaL_Reg nslua_proc_init_funcs[];
extern const luaL_Reg nslua_proc_spawn_funcs[];

/* proc.c: every signal disposition back to SIG_DFL (no lua_State). */
void nslua_reset_dispositions (void);
/* proc.c: join a new anonymous session keyring; 0 or errno (no lua_State). */
int nslua_new_session_keyring (void);
/* proc.c: find the argv area in /proc/self/stat (once; 0 or errno), and
** make comm and /proc/self/cmdline read 'title' (no lua_State). */
int nslua_argv_area (void);
void nslua_set_title (const char *title);
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
/* Room for n more fds the command keeps (scratch left on the stack), and
** one of them, added in the child (the executor's lock files, sync fd). */
void nslua_exec_reserve (lua_State *L, exec_plan *p, size_t n);
void nslua_exec_keep (exec_plan *p, int fd);
int nslua_exec_join_cgroups (exec_plan *p);
typedef struct exec_late exec_late;
/* Where the exec tail also keeps its failure (NULL: nowhere). */
void nslua_exec_set_late (exec_plan *p, exec_late *late);
exec_plan *nslua_exec_args (lua_State *L, const char *what);
/* exec.c: the fixed sequence (no Lua API call); never returns. */
void nslua_exec_run (exec_plan *p) __attribute__((noreturn));
/* exec.c: the "exec <step> <errno>[ <detail>]" status record, then _exit(1). */
void nslua_exec_fail (const exec_plan *p, const char *step, int err, const char *detail)
  NSLUA_UNDER_FILTER __attribute__((noreturn));
/* A failure of the exec tail kept where the init can read it after the
** command has ended: a seccomp filter may forbid the tail's write(2) of
** the record (it is installed before execve), and then the init writes it.
** nslua_spawn maps it shared with the command; 'pending' is set before the
** tail's own write and cleared once that write succeeded. */
struct exec_late {
  volatile int pending;
  int err;
  char step[16];
  char detail[32];
  /* CLOCK_MONOTONIC ns at the start of the command's clock, set by the
  ** exec tail after the set-up and the cgroup join, before the filters
  ** (0: not reached); the init's "pid" record carries it */
  long long start_ns;
};
/* exec.c: option tables.  Unknown names in the table at 'arg' raise; a list
** of fds in field 'name' into GC-owned memory left on the stack (NULL and
** nothing pushed when the field is nil). */
void nslua_check_opt_names (lua_State *L, int arg, const char *const *names);
const int *nslua_opt_fds (lua_State *L, int arg, const char *name, size_t *n);

/* spawn.c: proc.spawn's child: stdio[t] >= 0 is dup2'd onto t; pid or -1 (errno).
** With 'late' (may be NULL) the command gets an exec_late shared with the
** caller (*late: NULL when it could not be mapped); the caller unmaps it. */
int nslua_spawn (exec_plan *p, const int stdio[3], exec_late **late);
/* spawn.c: the same child in the calling process (the executor without an
** init): stdio in place, then the exec tail; never returns. */
void nslua_exec_child (exec_plan *p, const int stdio[3]) __attribute__((noreturn));
/* init.c: proc.init's loop: keep[0] and keep[1] are scratch for the status fd and
** the signalfd, keep[2..nkeep-1] the fds it keeps; 'late' (may be NULL): an
** exec failure of the command it reports when the command could not.
** 'same_session': the command shares our process group, so a signal the
** kernel sent the group (a terminal's ^C) is not forwarded a second time.
** 'guard' (-1: none): a pidfd of the set-id guard's answerer (guard.c),
** among the kept fds with the guard's group: when it ends first, the init
** ends the sandbox; the init must be PID 1. */
void nslua_init_run (int cmd, int status_fd, int *keep, size_t nkeep, const exec_late *late,
                     int same_session, int guard) __attribute__((noreturn));

/* guard.c: the set-id guard's watch (its Lua functions: core.mount). */
extern const luaL_Reg nslua_guard_funcs[];

/* netlink.c (link_up) and nlroute.c: plain C, no Lua state, so a freshly
** cloned child may call them before exec.  Each opens its own
** NETLINK_ROUTE socket (close-on-exec) in the caller's netns, looks the
** link up by name (addr_add; route_add: the dev, when given; link_up
** names it in its one RTM_NEWLINK), sends one request with NLM_F_ACK and
** closes the socket, as netlink.link_set(ifname, {up = true}),
** netlink.addr_add and netlink.route_add do.  They return 0 or an errno
** and set *what to what failed: "netlink socket", "RTM_GETLINK" (the name
** lookup: ENODEV, or EINVAL for a NULL, empty or too long name),
** "RTM_NEWLINK" (link_up: ENODEV for a missing link),
** "RTM_NEWADDR", "RTM_NEWROUTE", or, with EINVAL, the malformed argument:
** "cidr", "dst", "gateway", "family", "dev" (a route needs a gateway or a
** dev). */
int nslua_nl_link_up (const char *ifname, const char **what);
/* cidr: "10.0.0.2/24" or "fd00::2/64"; IPv6 addresses get IFA_F_NODAD. */
int nslua_nl_addr_add (const char *ifname, const char *cidr, const char **what);
/* dst: NULL or "default" (the default route) or a CIDR; gateway: an
** address or NULL; dev: a link name or NULL; family: AF_INET, AF_INET6
** or 0 (from dst or gateway, else AF_INET).  Table main, no metric. */
int nslua_nl_route_add (const char *dst, const char *gateway, const char *dev,
                        int family, const char **what);

/* netlink.c and nlroute.c: core.netlink is one table; nlroute.c adds the
** dumps and the address and route changes through
** nslua_netlink_route_funcs, over netlink.c's request machinery below. */
extern const luaL_Reg nslua_netlink_route_funcs[];
/* sockdiag.c: netlink.sockets, over NETLINK_SOCK_DIAG. */
extern const luaL_Reg nslua_netlink_diag_funcs[];

#define NSLUA_NLSOCK "nslua.nlsock"
struct mnl_socket;
struct nlmsghdr;

/*
** A socket box.  Every binding takes one as its optional last argument so
** a batch shares one socket (and one netns: a netlink socket acts in the
** netns it was created in, whatever the caller joins later).  'dirty' is
** set while a request is in flight: a Lua error raised from a dump
** callback (out of memory) may leave replies queued, and the next request
** drains them instead of tripping over a foreign sequence number.
*/
typedef struct nlsock {
  struct mnl_socket *nl;
  unsigned int portid;
  unsigned int seq;
  int dirty;
} nlsock;

/* One request in flight: the kernel's extended-ACK text and the caller's data. */
typedef struct nltalk {
  char ext[256];
  void *user;
} nltalk;

/* Dump callbacks append to the list at 'tbl'. */
typedef struct nldump {
  lua_State *L;
  int tbl;
  int filter;           /* ifindex or family filter, 0 = all */
  int names;            /* index of an index -> name table, 0 = none */
  int index;            /* result of a by-name lookup */
} nldump;

/* Open and bind 's' (NETLINK_ROUTE, or 'proto') in the caller's netns, or
** close it (NULL-safe). */
int nslua_nl_open (nlsock *s);
int nslua_nl_open_proto (nlsock *s, int proto);
void nslua_nl_close (nlsock *s);
/* One request with NLM_F_ACK, each reply through 'cb' (may be NULL) with
** 't' as its data; 0 or an errno, t->ext the kernel's extended-ACK text. */
int nslua_nl_talk (nlsock *s, struct nlmsghdr *nlh,
                   int (*cb) (const struct nlmsghdr *nlh, void *data), nltalk *t);
/* A link's index by name in the socket's netns (ENODEV: none). */
int nslua_nl_ifindex (nlsock *s, const char *name, int *index, nltalk *t);
/* An RTM_*LINK header with its ifinfomsg in 'buf' (MNL_SOCKET_BUFFER_SIZE). */
struct nlmsghdr *nslua_nl_linkhdr (char *buf, int type, unsigned int flags, int index);
/* The socket box at 'arg', or (*tmp set) a new one on the stack that the
** caller closes with nslua_nl_close; NULL and *err when that fails. */
nlsock *nslua_nl_sock (lua_State *L, int arg, int *tmp, int *err);
/* A new box of 'proto' pushed, opened in the netns named at 'arg' (fd box,
** integer fd, {pid = n}, or nil: ours); inside(ud), when not NULL, runs in
** that netns first (plain C: it must not raise) and returns 0 when no
** socket is needed (the box stays closed).  NULL with the failure triple
** pushed. */
typedef int (*nslua_nl_inside) (void *ud);
nlsock *nslua_nl_open_at (lua_State *L, int arg, int proto, nslua_nl_inside inside, void *ud);
/* nil, "what 'subject': strerror (extended ACK)", err */
int nslua_nl_fail (lua_State *L, int err, const char *what, const char *subject,
                   const nltalk *t);
/* An interface name 'name' of 'len' bytes, as the kernel accepts it; raises. */
const char *nslua_nl_checkifname (lua_State *L, int arg, const char *name, size_t len);
/* The table at 'arg' holds only 'keys' (sorted, NULL-ended); raises. */
void nslua_nl_checkkeys (lua_State *L, int arg, const char *const *keys, const char *noun);

/* landlock.c: a ruleset read from Lua (nslua_landlock_read leaves one
** userdata, the rules, on the stack) and applied by the exec tail
** (nslua_landlock_apply: 0 or errno, *what the call; no allocation). */
typedef struct nslua_ll_rule {
  const char *path;             /* NULL: a port rule */
  int port;                     /* -1: a path rule */
  unsigned long long access;
} nslua_ll_rule;
typedef struct nslua_landlock {
  unsigned long long fs, net;   /* the handled rights */
  const nslua_ll_rule *rules;
  size_t nrules;
} nslua_landlock;
void nslua_landlock_read (lua_State *L, int idx, nslua_landlock *ll);
int nslua_landlock_apply (const nslua_landlock *ll, int status_fd, const char **what);

/* Subsystems: each csrc/<sub>.c pushes core.<sub>.  Weak, so nslua.c
** registers only the subsystems that are compiled in. */
int nslua_open_caps (lua_State *L) __attribute__((weak));
int nslua_open_cgroup (lua_State *L) __attribute__((weak));
int nslua_open_landlock (lua_State *L) __attribute__((weak));
int nslua_open_mount (lua_State *L) __attribute__((weak));
int nslua_open_netlink (lua_State *L) __attribute__((weak));
int nslua_open_nft (lua_State *L) __attribute__((weak));
int nslua_open_ns (lua_State *L) __attribute__((weak));
int nslua_open_proc (lua_State *L) __attribute__((weak));
int nslua_open_notify (lua_State *L) __attribute__((weak));
int nslua_open_seccomp (lua_State *L) __attribute__((weak));
int nslua_open_setup (lua_State *L) __attribute__((weak));

#pragma GCC visibility pop

#endif
