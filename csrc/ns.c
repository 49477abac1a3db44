/* ns.c - namespaces: clone, clone3, unshare, setns, ns fds and ids, id maps, hostname. */
/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nslua.h"

const nslua_flag nslua_ns_flags[] = {
  {"cgroup", CLONE_NEWCGROUP},
  {"ipc",    CLONE_NEWIPC},
  {"mnt",    CLONE_NEWNS},
  {"net",    CLONE_NEWNET},
  {"pid",    CLONE_NEWPID},
  {"time",   CLONE_NEWTIME},
  {"user",   CLONE_NEWUSER},
  {"uts",    CLONE_NEWUTS},
  {NULL, 0}
};

static const char *const ns_names[] = {
  "any", "cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts", NULL
};
static const int ns_types[] = {
  0, CLONE_NEWCGROUP, CLONE_NEWIPC, CLONE_NEWNS, CLONE_NEWNET,
  CLONE_NEWPID, CLONE_NEWTIME, CLONE_NEWUSER, CLONE_NEWUTS
};

/* The links in /proc/<pid>/ns/, with the type NS_GET_NSTYPE reports for each. */
static const char *const ns_files[] = {
  "cgroup", "ipc", "mnt", "net", "pid", "pid_for_children", "time",
  "time_for_children", "user", "uts", NULL
};
static const int ns_file_types[] = {
  CLONE_NEWCGROUP, CLONE_NEWIPC, CLONE_NEWNS, CLONE_NEWNET, CLONE_NEWPID,
  CLONE_NEWPID, CLONE_NEWTIME, CLONE_NEWTIME, CLONE_NEWUSER, CLONE_NEWUTS
};

static lua_Integer checkpid (lua_State *L, int arg) {
  lua_Integer pid = luaL_checkinteger(L, arg);
  luaL_argcheck(L, pid >= 0, arg, "pid must be >= 0");
  luaL_argcheck(L, pid <= 0x7fffffff, arg, "pid out of range");
  return pid;
}

/* /proc/<pid>/<rest>, pid 0 = self.  'rest' is one of our own short names. */
static void proc_path (char *buf, size_t size, lua_Integer pid, const char *rest) {
  if (pid == 0)
    snprintf(buf, size, "/proc/self/%s", rest);
  else
    snprintf(buf, size, "/proc/%lld/%s", (long long)pid, rest);
}

/*
** One write(2) of the whole buffer; 0 or errno.  uid_map, gid_map and
** timens_offsets are parsed per write call and refuse a second write
** (user_namespaces(7), time_namespaces(7)), so a short write is an error.
*/
static int write_once (const char *path, const char *buf, size_t len) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  ssize_t n;
  int err = 0;
  if (fd < 0)
    return errno;
  n = write(fd, buf, len);
  if (n < 0)
    err = errno;
  else if ((size_t)n != len)
    err = EIO;
  (void)close(fd);
  return err;
}

/* "net uts" for a CLONE_NEW* mask, left on the stack. */
static const char *flag_names (lua_State *L, unsigned long bits) {
  luaL_Buffer b;
  const nslua_flag *f;
  luaL_buffinit(L, &b);
  for (f = nslua_ns_flags; f->name != NULL; f++) {
    if (bits & f->bits) {
      if (luaL_bufflen(&b) > 0)
        luaL_addchar(&b, ' ');
      luaL_addstring(&b, f->name);
    }
  }
  luaL_pushresult(&b);
  return lua_tostring(L, -1);
}

/*
** A raw clone duplicates only the calling thread: a multi-threaded Lua host
** would leave the child with locks held by threads that no longer exist.
** /proc/self/task has st_nlink == 2 + number of threads: one stat.
*/
void nslua_check_single_thread (lua_State *L, const char *what) {
  struct stat st;
  if (stat("/proc/self/task", &st) == 0 && st.st_nlink > 3)
    luaL_error(L, "%s: the process has %d threads; nslua needs a "
               "single-threaded process", what, (int)st.st_nlink - 2);
}

/*
** ns.clone{pid = true, ...} -> pid in the parent, 0 in the child | nil, msg, errno
** fork(2) semantics (raw SYS_clone, SIGCHLD, no new stack, no CLONE_VM): the
** child goes on running the same Lua code.  The child's collector is
** stopped before it returns, so no finalizer of the parent's objects (fd
** boxes, containers) ever runs in the child.  Flush Lua io buffers before
** calling.  'time' is refused: CLONE_NEWTIME is only valid for unshare.
*/
static int ns_clone (lua_State *L) {
  unsigned long flags = nslua_optflags(L, 1, nslua_ns_flags);
  long pid;
  luaL_argcheck(L, !(flags & CLONE_NEWTIME), 1,
                "'time' is not a clone flag: unshare{time = true}, offsets, then clone");
  nslua_check_single_thread(L, "clone");
  pid = syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
  if (pid < 0)
    return nslua_fail(L, errno, "clone", NULL);
  if (pid == 0) {
    lua_gc(L, LUA_GCSTOP);
    nslua_kick_forget();
  }
  lua_pushinteger(L, pid);
  return 1;
}

/* The fd of an options-table field at the top of the stack; raises. */
static int field_fd (lua_State *L, int arg, const char *key) {
  int isint;
  lua_Integer fd = lua_tointegerx(L, -1, &isint);
  int *box;
  if (lua_type(L, -1) == LUA_TNUMBER && isint) {
    luaL_argcheck(L, fd >= 0 && fd <= 0x7fffffff, arg,
                  lua_pushfstring(L, "option '%s': fd out of range", key));
    return (int)fd;
  }
  box = (int *)luaL_testudata(L, -1, NSLUA_FD);
  if (box == NULL)
    return luaL_argerror(L, arg,
                         lua_pushfstring(L, "option '%s' must be an fd box or integer", key));
  if (*box < 0)
    return luaL_argerror(L, arg,
                         lua_pushfstring(L, "option '%s': attempt to use a closed fd", key));
  return *box;
}

/* clone3 options {cgroup = fd}: the cgroup fd or -1.  Unknown keys raise. */
static int clone3_opts (lua_State *L, int arg) {
  int cgroup = -1;
  if (lua_isnoneornil(L, arg))
    return -1;
  luaL_checktype(L, arg, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, arg) != 0) {
    if (lua_type(L, -2) != LUA_TSTRING)
      luaL_argerror(L, arg, "option names must be strings");
    if (strcmp(lua_tostring(L, -2), "cgroup") != 0)
      luaL_argerror(L, arg, lua_pushfstring(L, "unknown option '%s' (valid: cgroup)",
                                            lua_tostring(L, -2)));
    cgroup = field_fd(L, arg, "cgroup");
    lua_pop(L, 1);
  }
  return cgroup;
}

/*
** ns.clone3(flags [, {cgroup = fd}]) -> pid, pidfd box in the parent, 0 in the child
**                                     | nil, msg, errno
** clone with fork semantics like ns.clone, plus CLONE_PIDFD (kernel 5.3) and
** CLONE_INTO_CGROUP (5.7): the child starts inside the cgroup, so it is
** limited before it runs a single instruction, with no window in which it
** could fork outside.  The pidfd box exists before the syscall, so a memory
** error can never leak the pidfd; the child gets no pidfd.
*/
static int ns_clone3 (lua_State *L) {
  unsigned long flags = nslua_optflags(L, 1, nslua_ns_flags);
  int cgroup = clone3_opts(L, 2);
  struct clone_args args;
  int *box;
  long pid;
  luaL_argcheck(L, !(flags & CLONE_NEWTIME), 1,
                "'time' is not a clone flag: unshare{time = true}, offsets, then clone");
  nslua_check_single_thread(L, "clone3");
  box = nslua_newfd(L);
  memset(&args, 0, sizeof args);
  args.flags = flags | CLONE_PIDFD;
  args.pidfd = (uint64_t)(uintptr_t)box;
  args.exit_signal = SIGCHLD;
  if (cgroup >= 0) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = (uint64_t)cgroup;
  }
  pid = syscall(SYS_clone3, &args, sizeof args);
  if (pid < 0) {
    int err = errno;
    *box = -1;  /* the kernel may have stored an fd it then released */
    return nslua_fail(L, err, "clone3", NULL);
  }
  if (pid == 0) {
    *box = -1;
    lua_gc(L, LUA_GCSTOP);
    nslua_kick_forget();
    lua_pushinteger(L, 0);
    return 1;
  }
  lua_pushinteger(L, pid);
  lua_insert(L, -2);
  return 2;
}

/* ns.id(pid, type) | ns.id(fdbox [, type]) -> inode | nil, msg, errno   (pid 0 = self) */
static int ns_id (lua_State *L) {
  struct stat st;
  if (lua_type(L, 1) == LUA_TNUMBER) {
    lua_Integer pid = checkpid(L, 1);
    int which = luaL_checkoption(L, 2, NULL, ns_files);
    char path[64], rest[32];
    snprintf(rest, sizeof rest, "ns/%s", ns_files[which]);
    proc_path(path, sizeof path, pid, rest);
    if (stat(path, &st) != 0)
      return nslua_fail(L, errno, "id", path);
  } else {
    int fd = nslua_checkfd(L, 1);
    int which = lua_isnoneornil(L, 2) ? -1 : luaL_checkoption(L, 2, NULL, ns_files);
    /* NS_GET_NSTYPE (4.11): fstat alone would give an inode for any file. */
    int type = ioctl(fd, NS_GET_NSTYPE);
    if (type < 0)
      return nslua_fail(L, errno, "id", which >= 0 ? ns_files[which] : NULL);
    if (which >= 0 && type != ns_file_types[which])
      return nslua_fail(L, EINVAL, "id", ns_files[which]);
    if (fstat(fd, &st) != 0)
      return nslua_fail(L, errno, "id", which >= 0 ? ns_files[which] : NULL);
  }
  lua_pushinteger(L, (lua_Integer)st.st_ino);
  return 1;
}

/* ns.open(pid, "net") -> fd box | nil, msg, errno   (pid 0 = self) */
static int ns_open (lua_State *L) {
  lua_Integer pid = checkpid(L, 1);
  int which = luaL_checkoption(L, 2, NULL, ns_files);
  char path[64], rest[32];
  int *box;
  snprintf(rest, sizeof rest, "ns/%s", ns_files[which]);
  proc_path(path, sizeof path, pid, rest);
  box = nslua_newfd(L);  /* allocate before open: see nslua_newfd */
  *box = open(path, O_RDONLY | O_CLOEXEC);
  if (*box < 0)
    return nslua_fail(L, errno, "open", path);
  return 1;
}

static const char *const clock_names[] = {"boottime", "monotonic", NULL};

/*
** ns.set_time_offsets{monotonic = s, boottime = s} -> true | nil, msg, errno
** Valid after unshare{time = true} and before the first process enters the
** new namespace (time_namespaces(7): EACCES after that).  Seconds may be
** fractional; the kernel takes "<clock> <sec> <nsec>" lines in one write.
*/
static int ns_set_time_offsets (lua_State *L) {
  char buf[128];
  size_t len = 0;
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, 1) != 0) {
    const char *name;
    long long sec;
    long nsec = 0;
    int i;
    if (lua_type(L, -2) != LUA_TSTRING)
      luaL_argerror(L, 1, "clock names must be strings");
    name = lua_tostring(L, -2);
    for (i = 0; clock_names[i] != NULL && strcmp(clock_names[i], name) != 0; i++)
      ;
    if (clock_names[i] == NULL)
      luaL_argerror(L, 1, lua_pushfstring(L, "unknown clock '%s' "
                                          "(valid: boottime monotonic)", name));
    if (lua_type(L, -1) != LUA_TNUMBER)
      luaL_argerror(L, 1, lua_pushfstring(L, "offset '%s' must be a number", name));
    if (lua_isinteger(L, -1)) {
      sec = (long long)lua_tointeger(L, -1);
    } else {
      double d = (double)lua_tonumber(L, -1);
      if (!(d > -4e18 && d < 4e18))  /* also NaN */
        luaL_argerror(L, 1, lua_pushfstring(L, "offset '%s' out of range", name));
      sec = (long long)d;
      if ((double)sec > d)  /* floor: nsec is never negative */
        sec--;
      nsec = (long)((d - (double)sec) * 1e9 + 0.5);
      if (nsec >= 1000000000L) {
        sec++;
        nsec -= 1000000000L;
      }
    }
    len += (size_t)snprintf(buf + len, sizeof buf - len, "%s %lld %ld\n",
                            clock_names[i], sec, nsec);
    lua_pop(L, 1);
  }
  if (len > 0) {
    int err = write_once("/proc/self/timens_offsets", buf, len);
    if (err != 0)
      return nslua_fail(L, err, "set_time_offsets", "/proc/self/timens_offsets");
  }
  return nslua_ok(L);
}

/* ns.setdomainname(name) -> true | nil, msg, errno */
static int ns_setdomainname (lua_State *L) {
  size_t len;
  const char *name = luaL_checklstring(L, 1, &len);
  luaL_argcheck(L, len <= 64, 1, "domainname must be at most 64 bytes");
  if (setdomainname(name, len) != 0)
    return nslua_fail(L, errno, "setdomainname", name);
  return nslua_ok(L);
}

static const char *const setgroups_modes[] = {"allow", "deny", NULL};

/*
** ns.setgroups(pid, "deny"|"allow") -> true | nil, msg, errno   (pid 0 = self)
** An unprivileged writer must deny setgroups before it may write gid_map
** (kernel 3.19, CVE-2014-8989).
*/
static int ns_setgroups (lua_State *L) {
  lua_Integer pid = checkpid(L, 1);
  int mode = luaL_checkoption(L, 2, NULL, setgroups_modes);
  char path[64];
  int err;
  proc_path(path, sizeof path, pid, "setgroups");
  err = write_once(path, setgroups_modes[mode], strlen(setgroups_modes[mode]));
  if (err != 0)
    return nslua_fail(L, err, "setgroups", path);
  return nslua_ok(L);
}
/* ns.unshare{net = true, uts = true} -> true | nil, msg, errno */
static int ns_unshare (lua_State *L) {
  int flags = (int)nslua_checkflags(L, 1, nslua_ns_flags);
  if (unshare(flags) != 0)
    return nslua_fail(L, errno, "unshare", NULL);
  return nslua_ok(L);
}

/* ns.setns(nsfd [, "net"]) | ns.setns(pidfd, {net = true}) -> true | nil, msg, errno */
static int ns_setns (lua_State *L) {
  int fd = nslua_checkfd(L, 1);
  if (lua_istable(L, 2)) {
    /* A pidfd and a CLONE_NEW* set joins several namespaces atomically (5.8). */
    unsigned long flags = nslua_checkflags(L, 2, nslua_ns_flags);
    luaL_argcheck(L, flags != 0, 2, "empty namespace set");
    if (setns(fd, (int)flags) != 0) {
      int err = errno;
      return nslua_fail(L, err, "setns", flag_names(L, flags));
    }
  } else {
    int which = luaL_checkoption(L, 2, "any", ns_names);
    if (setns(fd, ns_types[which]) != 0)
      return nslua_fail(L, errno, "setns", ns_names[which]);
  }
  return nslua_ok(L);
}

/* ns.sethostname(name) -> true | nil, msg, errno */
static int ns_sethostname (lua_State *L) {
  size_t len;
  const char *name = luaL_checklstring(L, 1, &len);
  luaL_argcheck(L, len > 0 && len <= 64, 1, "hostname must be 1..64 bytes");
  if (sethostname(name, len) != 0)
    return nslua_fail(L, errno, "sethostname", name);
  return nslua_ok(L);
}

/* The kernel limits: UID_GID_MAP_MAX_EXTENTS (4.15) and map_write's count < PAGE_SIZE. */
#define ID_MAP_MAX_LINES 340
#define ID_MAP_MAX_BYTES 4095

static const char *const idmap_kinds[] = {"uid", "gid", NULL};

static size_t count_lines (const char *s, size_t len) {
  size_t n = 0, i;
  for (i = 0; i < len; i++)
    if (s[i] == '\n')
      n++;
  if (len > 0 && s[len - 1] != '\n')
    n++;
  return n;
}

/* Entry i of the list at 'arg' as "inside outside count\n" appended to buf. */
static size_t add_id_line (lua_State *L, int arg, lua_Integer i, char *buf, size_t len) {
  static const char *const what[] = {"inside", "outside", "count"};
  unsigned long v[3];
  int j, n;
  if (lua_geti(L, arg, i) != LUA_TTABLE)
    luaL_argerror(L, arg, lua_pushfstring(L, "entry %d must be {inside, outside, count}",
                                          (int)i));
  for (j = 0; j < 3; j++) {
    int isint;
    lua_Integer x;
    lua_geti(L, -1, j + 1);
    x = lua_tointegerx(L, -1, &isint);
    if (!isint || x < (j == 2 ? 1 : 0) || x > (j == 2 ? 4294967295LL : 4294967294LL))
      luaL_argerror(L, arg, lua_pushfstring(L, "entry %d: %s must be an integer in %s",
                                            (int)i, what[j],
                                            j == 2 ? "1..4294967295" : "0..4294967294"));
    v[j] = (unsigned long)x;
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  n = snprintf(buf + len, ID_MAP_MAX_BYTES + 1 - len, "%lu %lu %lu\n", v[0], v[1], v[2]);
  luaL_argcheck(L, (size_t)n < ID_MAP_MAX_BYTES + 1 - len, arg,
                "id map longer than 4095 bytes");
  return len + (size_t)n;
}

/*
** ns.write_id_map(pid, "uid"|"gid", "0 1000 1\n" | {{0, 1000, 1}, ...})
**   -> true | nil, msg, errno   (pid 0 = self)
** The map must arrive in a single write(2) and can be written only once
** (user_namespaces(7)); limits are checked here so misuse raises.
*/
static int ns_write_id_map (lua_State *L) {
  lua_Integer pid = checkpid(L, 1);
  int kind = luaL_checkoption(L, 2, NULL, idmap_kinds);
  char buf[ID_MAP_MAX_BYTES + 1], path[64], rest[16];
  const char *text = buf;
  size_t len = 0;
  int err;
  if (lua_type(L, 3) == LUA_TSTRING) {
    text = lua_tolstring(L, 3, &len);
    luaL_argcheck(L, len > 0, 3, "empty id map");
    luaL_argcheck(L, len <= ID_MAP_MAX_BYTES, 3, "id map longer than 4095 bytes");
    luaL_argcheck(L, count_lines(text, len) <= ID_MAP_MAX_LINES, 3,
                  "id map has more than 340 lines");
  } else if (lua_type(L, 3) == LUA_TTABLE) {
    lua_Integer n = luaL_len(L, 3), i;
    luaL_argcheck(L, n > 0, 3, "empty id map");
    luaL_argcheck(L, n <= ID_MAP_MAX_LINES, 3, "id map has more than 340 lines");
    for (i = 1; i <= n; i++)
      len = add_id_line(L, 3, i, buf, len);
  } else {
    luaL_typeerror(L, 3, "string or table");
  }
  snprintf(rest, sizeof rest, "%s_map", idmap_kinds[kind]);
  proc_path(path, sizeof path, pid, rest);
  err = write_once(path, text, len);
  if (err != 0)
    return nslua_fail(L, err, "write_id_map", path);
  return nslua_ok(L);
}

/*
** A new user namespace, child of ours, with the given maps (the text of
** uid_map and gid_map writes), kept as an fd: a short-lived helper is
** cloned into it and made dumpable, so its /proc files belong to us and we
** can write its maps (a non-dumpable task's belong to root; setgroups is
** denied); we open its
** namespace and end it.  The helper holds nothing and runs nothing else,
** and it is the only process nslua makes dumpable.  'proc' is where a
** proc file system is ("/proc", or the host's under the old root during
** set-up): the helper tells its pid as that proc counts it.  No Lua
** state: the executor calls it in the child.  Returns the fd, or -errno
** with *what naming the call.
*/
int nslua_userns_mapped (const char *proc, const char *uid_map, const char *gid_map,
                         const char **what) {
  char path[96], self[24], msg[24];
  int sync[2], err = 0, fd = -1;
  ssize_t n;
  pid_t h;
  *what = "socketpair";
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sync) != 0)
    return -errno;
  *what = "clone";
  h = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, NULL);
  if (h < 0) {
    err = errno;
    close(sync[0]);
    close(sync[1]);
    return -err;
  }
  if (h == 0) {
    /* once dumpable: its pid as 'proc' names it (a proc of another pid
    ** namespace, e.g. the host's seen from a new one, counts differently
    ** from clone's return), then wait for the end of file */
    char b;
    /* made dumpable below: it keeps no fd but its end of the socket, and
    ** no directory of the set-up as its cwd */
    if ((sync[1] > 3 && syscall(SYS_close_range, 3U, (unsigned)sync[1] - 1, 0U) != 0) ||
        syscall(SYS_close_range, (unsigned)sync[1] + 1, ~0U, 0U) != 0 || chdir("/") != 0)
      _exit(1);
    snprintf(path, sizeof path, "%s/self", proc);
    n = readlink(path, msg, sizeof msg - 1);
    if (n <= 0 || prctl(PR_SET_DUMPABLE, 1UL, 0, 0, 0) != 0 || write(sync[1], msg, (size_t)n) != n)
      _exit(1);
    while (read(sync[1], &b, 1) > 0)
      ;
    _exit(0);
  }
  *what = "read";
  n = read(sync[0], self, sizeof self - 1);
  if (n <= 0 || (size_t)n >= sizeof self)
    err = n < 0 ? errno : ECHILD;
  else
    self[n] = 0;
  if (err == 0) {
    *what = "write uid_map";
    snprintf(path, sizeof path, "%s/%s/uid_map", proc, self);
    err = nslua_write_text(path, uid_map);
  }
  /* nobody in it may drop supplementary groups (CVE-2014-8989's concern:
  ** a group that denies access); the payload never needs setgroups */
  if (err == 0) {
    *what = "write setgroups";
    snprintf(path, sizeof path, "%s/%s/setgroups", proc, self);
    err = nslua_write_text(path, "deny");
  }
  if (err == 0) {
    *what = "write gid_map";
    snprintf(path, sizeof path, "%s/%s/gid_map", proc, self);
    err = nslua_write_text(path, gid_map);
  }
  if (err == 0) {
    *what = "open ns/user";
    snprintf(path, sizeof path, "%s/%s/ns/user", proc, self);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
      err = errno;
  }
  close(sync[0]);
  close(sync[1]);
  kill(h, SIGKILL);
  while (waitpid(h, NULL, 0) < 0 && errno == EINTR)
    ;
  return err != 0 ? -err : fd;
}

static const luaL_Reg ns_funcs[] = {
  {"clone", ns_clone},
  {"clone3", ns_clone3},
  {"id", ns_id},
  {"open", ns_open},
  {"set_time_offsets", ns_set_time_offsets},
  {"setdomainname", ns_setdomainname},
  {"setgroups", ns_setgroups},
  {"sethostname", ns_sethostname},
  {"setns", ns_setns},
  {"unshare", ns_unshare},
  {"write_id_map", ns_write_id_map},
  {NULL, NULL}
};

int nslua_open_ns (lua_State *L) {
  luaL_newlib(L, ns_funcs);
  return 1;
}
