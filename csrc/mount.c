/* mount.c - mounts: mount, umount, pivot_root, chroot, files, the new mount API. */
/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <linux/openat2.h>       /* struct open_how, RESOLVE_* (kernel 5.6 headers) */

#include "nslua.h"

/*
** <sys/mount.h> of glibc 2.36 declares the new mount API (open_tree,
** move_mount, mount_setattr, struct mount_attr); <linux/mount.h> would
** redefine the same macros, so it is not included.  The calls go through
** syscall(): glibc < 2.36 has no wrappers, and defines what it lacks below.
*/
#ifndef MOUNT_ATTR_SIZE_VER0
struct mount_attr {
  unsigned long long attr_set;
  unsigned long long attr_clr;
  unsigned long long propagation;
  unsigned long long userns_fd;
};
#define MOUNT_ATTR_RDONLY      0x00000001
#define MOUNT_ATTR_NOSUID      0x00000002
#define MOUNT_ATTR_NODEV       0x00000004
#define MOUNT_ATTR_NOEXEC      0x00000008
#define MOUNT_ATTR__ATIME      0x00000070
#define MOUNT_ATTR_NOATIME     0x00000010
#define MOUNT_ATTR_STRICTATIME 0x00000020
#define MOUNT_ATTR_NODIRATIME  0x00000080
#define OPEN_TREE_CLONE        1
#define OPEN_TREE_CLOEXEC      O_CLOEXEC
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif
#ifndef MOUNT_ATTR_IDMAP
#define MOUNT_ATTR_IDMAP 0x00100000
#endif
#ifndef MOUNT_ATTR_NOSYMFOLLOW
#define MOUNT_ATTR_NOSYMFOLLOW 0x00200000
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif

const nslua_flag nslua_mnt_flags[] = {
  {"rdonly",      MS_RDONLY},
  {"nosuid",      MS_NOSUID},
  {"nodev",       MS_NODEV},
  {"noexec",      MS_NOEXEC},
  {"synchronous", MS_SYNCHRONOUS},
  {"remount",     MS_REMOUNT},
  {"mandlock",    MS_MANDLOCK},
  {"dirsync",     MS_DIRSYNC},
  {"noatime",     MS_NOATIME},
  {"nodiratime",  MS_NODIRATIME},
  {"bind",        MS_BIND},
  {"move",        MS_MOVE},
  {"rec",         MS_REC},
  {"silent",      MS_SILENT},
  {"unbindable",  MS_UNBINDABLE},
  {"private",     MS_PRIVATE},
  {"slave",       MS_SLAVE},
  {"shared",      MS_SHARED},
  {"relatime",    MS_RELATIME},
  {"strictatime", MS_STRICTATIME},
  {"lazytime",    MS_LAZYTIME},
  {"nosymfollow", MS_NOSYMFOLLOW},
  {NULL, 0}
};

static const nslua_flag mnt_umount_flags[] = {
  {"force",    MNT_FORCE},
  {"detach",   MNT_DETACH},
  {"expire",   MNT_EXPIRE},
  {"nofollow", UMOUNT_NOFOLLOW},
  {NULL, 0}
};

static const nslua_flag mnt_tree_flags[] = {
  {"clone",    OPEN_TREE_CLONE},
  {"rec",      AT_RECURSIVE},
  {"nofollow", AT_SYMLINK_NOFOLLOW},
  {NULL, 0}
};

const nslua_flag nslua_mnt_attr_flags[] = {
  {"rdonly",      MOUNT_ATTR_RDONLY},
  {"nosuid",      MOUNT_ATTR_NOSUID},
  {"nodev",       MOUNT_ATTR_NODEV},
  {"noexec",      MOUNT_ATTR_NOEXEC},
  {"nosymfollow", MOUNT_ATTR_NOSYMFOLLOW},
  {"noatime",     MOUNT_ATTR_NOATIME},
  {"strictatime", MOUNT_ATTR_STRICTATIME},
  {"nodiratime",  MOUNT_ATTR_NODIRATIME},
  {"idmap",       MOUNT_ATTR_IDMAP},
  {NULL, 0}
};

static const char *const mnt_node_names[] = {
  "file", "char", "block", "fifo", "socket", NULL
};
static const mode_t mnt_node_types[] = {
  S_IFREG, S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK
};

/*
** A permission mode at 'arg' (default 'def' when def >= 0): 0..07777, an
** integer or a string of octal digits ("0755").  Lua has no octal
** literals, and luaL_checkinteger would read the string "755" as decimal.
*/
static mode_t check_mode (lua_State *L, int arg, lua_Integer def) {
  lua_Integer mode = 0;
  if (lua_type(L, arg) == LUA_TSTRING) {
    const char *s = lua_tostring(L, arg);
    luaL_argcheck(L, *s != '\0', arg, "mode must be an integer or an octal string");
    for (; *s != '\0' && mode <= 07777; s++) {
      luaL_argcheck(L, *s >= '0' && *s <= '7', arg,
                    "mode must be an integer or an octal string");
      mode = mode * 8 + (*s - '0');
    }
  } else if (def >= 0) {
    mode = luaL_optinteger(L, arg, def);
  } else {
    mode = luaL_checkinteger(L, arg);
  }
  luaL_argcheck(L, mode >= 0 && mode <= 07777, arg, "mode out of range (0..07777)");
  return (mode_t)mode;
}

/* A uid or gid at 'arg'; nil keeps the current one (-1 to chown). */
static unsigned int check_id (lua_State *L, int arg) {
  lua_Integer id;
  if (lua_isnoneornil(L, arg))
    return (unsigned int)-1;
  id = luaL_checkinteger(L, arg);
  luaL_argcheck(L, id >= 0 && id < 0xffffffffLL, arg, "id out of range (0..4294967294)");
  return (unsigned int)id;
}

/* An optional boolean at 'arg' (none or nil is false). */
static int opt_bool (lua_State *L, int arg) {
  if (lua_isnoneornil(L, arg))
    return 0;
  luaL_checktype(L, arg, LUA_TBOOLEAN);
  return lua_toboolean(L, arg);
}

/*
** mount.mount(source, target [, fstype [, flags [, data]]]) -> true | nil, msg, errno
** source, fstype and data may be nil (a remount or a propagation change).
*/
static int mnt_mount (lua_State *L) {
  const char *source = luaL_optstring(L, 1, NULL);
  const char *target = luaL_checkstring(L, 2);
  const char *fstype = luaL_optstring(L, 3, NULL);
  unsigned long flags = nslua_optflags(L, 4, nslua_mnt_flags);
  const char *data = luaL_optstring(L, 5, NULL);
  int err;
  if (mount(source, target, fstype, flags, data) == 0)
    return nslua_ok(L);
  err = errno;
  /* As in bwrap: ENOSPC from mount is the per-namespace mount limit
  ** (fs.mount-max, "too many mounts"), not a full disk. */
  if (err == ENOSPC) {
    luaL_pushfail(L);
    lua_pushfstring(L, "mount '%s': %s (too many mounts: see fs.mount-max)",
                    target, strerror(err));
    lua_pushinteger(L, err);
    return 3;
  }
  return nslua_fail(L, err, "mount", target);
}

/* mount.umount(target [, flags]) -> true | nil, msg, errno */
static int mnt_umount (lua_State *L) {
  const char *target = luaL_checkstring(L, 1);
  int flags = (int)nslua_optflags(L, 2, mnt_umount_flags);
  if (umount2(target, flags) != 0)
    return nslua_fail(L, errno, "umount", target);
  return nslua_ok(L);
}

/* mount.pivot_root(new_root, put_old) -> true | nil, msg, errno
** No glibc wrapper exists: raw syscall. */
static int mnt_pivot_root (lua_State *L) {
  const char *new_root = luaL_checkstring(L, 1);
  const char *put_old = luaL_checkstring(L, 2);
  if (syscall(SYS_pivot_root, new_root, put_old) != 0)
    return nslua_fail(L, errno, "pivot_root", new_root);
  return nslua_ok(L);
}

/*
** mount.pivot(newroot) -> true | nil, msg, errno
** crun's do_pivot: pivot_root(".", ".") stacks the old root on top of the
** new one at "/", so no put_old directory is needed inside the new root;
** the detached unmount of "." then drops the old root (pivot_root(2),
** "pivot_root(".", ".")" note).  The message names the failing step.
*/
static int mnt_pivot (lua_State *L) {
  const char *newroot = luaL_checkstring(L, 1);
  if (chdir(newroot) != 0)
    return nslua_fail(L, errno, "chdir", newroot);
  if (syscall(SYS_pivot_root, ".", ".") != 0)
    return nslua_fail(L, errno, "pivot_root", ".");
  if (umount2(".", MNT_DETACH) != 0)
    return nslua_fail(L, errno, "umount", ".");
  if (chdir("/") != 0)
    return nslua_fail(L, errno, "chdir", "/");
  return nslua_ok(L);
}

/* mount.chroot(path) -> true | nil, msg, errno */
static int mnt_chroot (lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  if (chroot(path) != 0)
    return nslua_fail(L, errno, "chroot", path);
  return nslua_ok(L);
}

/* mount.chdir(path) -> true | nil, msg, errno */
static int mnt_chdir (lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  if (chdir(path) != 0)
    return nslua_fail(L, errno, "chdir", path);
  return nslua_ok(L);
}

/* mkdir that accepts an existing directory (stat follows symlinks, as
** mkdir -p does); 0 or an errno, 'notdir' for an existing non-directory. */
static int ensure_dir (const char *path, mode_t mode, int notdir) {
  struct stat st;
  int err;
  if (mkdir(path, mode) == 0)
    return 0;
  err = errno;
  if (err != EEXIST)
    return err;
  if (stat(path, &st) != 0)
    return errno;
  return S_ISDIR(st.st_mode) ? 0 : notdir;
}

/*
** mount.mkdir(path [, mode = 0755 [, parents = false]]) -> true | nil, msg, errno
** The mode is subject to the umask, as in mkdir(2).  With parents, every
** missing component is made with 'mode' and an existing directory is
** success (mkdir -p); the message names the component that failed, and a
** non-directory in the way is ENOTDIR (EEXIST when it is the last one).
*/
int nslua_mkdir_p (char *path, unsigned int mode, const char **subject) {
  char *p;
  int err;
  *subject = path;
  for (p = path + 1; *p != '\0'; p++) {
    if (*p != '/' || p[-1] == '/')
      continue;
    *p = '\0';
    err = ensure_dir(path, (mode_t)mode, ENOTDIR);
    if (err != 0)
      return err;  /* path now ends at the component that failed */
    *p = '/';
  }
  return ensure_dir(path, (mode_t)mode, EEXIST);
}

static int mnt_mkdir (lua_State *L) {
  size_t len;
  const char *path = luaL_checklstring(L, 1, &len);
  mode_t mode = check_mode(L, 2, 0755);
  int parents = opt_bool(L, 3);
  const char *subject;
  char *buf;
  int err;
  if (!parents) {
    if (mkdir(path, mode) != 0)
      return nslua_fail(L, errno, "mkdir", path);
    return nslua_ok(L);
  }
  luaL_argcheck(L, len > 0, 1, "empty path");
  buf = (char *)lua_newuserdatauv(L, len + 1, 0);  /* GC-owned scratch */
  memcpy(buf, path, len + 1);
  err = nslua_mkdir_p(buf, mode, &subject);
  if (err != 0)
    return nslua_fail(L, err, "mkdir", subject);
  return nslua_ok(L);
}

/* mount.mkfifo(path [, mode]) -> true | nil, msg, errno  (0600 default) */
static int mnt_mkfifo (lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  mode_t mode = check_mode(L, 2, 0600);
  if (mkfifo(path, mode) != 0)
    return nslua_fail(L, errno, "mkfifo", path);
  return nslua_ok(L);
}

/*
** mount.mkfile(path [, mode = 0644]) -> true | nil, msg, errno
** An empty file to bind-mount a file onto.  An existing non-directory is
** success (as bwrap's ensure_file); an existing directory is EISDIR.
*/
int nslua_mkfile (const char *path, unsigned int mode, const char **what) {
  struct stat st;
  int fd, err;
  *what = "open";
  fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)mode);
  if (fd >= 0) {
    close(fd);
    return 0;
  }
  err = errno;
  if (err != EEXIST)
    return err;
  if (stat(path, &st) != 0) {
    *what = "stat";
    return errno;
  }
  return S_ISDIR(st.st_mode) ? EISDIR : 0;
}

static int mnt_mkfile (lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  mode_t mode = check_mode(L, 2, 0644);
  const char *what;
  int err = nslua_mkfile(path, mode, &what);
  if (err != 0)
    return nslua_fail(L, err, what, path);
  return nslua_ok(L);
}

/* mount.symlink(target, linkpath) -> true | nil, msg, errno */
static int mnt_symlink (lua_State *L) {
  const char *target = luaL_checkstring(L, 1);
  const char *linkpath = luaL_checkstring(L, 2);
  if (symlink(target, linkpath) != 0)
    return nslua_fail(L, errno, "symlink", linkpath);
  return nslua_ok(L);
}

/* mount.chmod(path, mode) -> true | nil, msg, errno */
static int mnt_chmod (lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  mode_t mode = check_mode(L, 2, -1);
  if (chmod(path, mode) != 0)
    return nslua_fail(L, errno, "chmod", path);
  return nslua_ok(L);
}

/* mount.chown(path, uid, gid [, nofollow]) -> true | nil, msg, errno
** A nil uid or gid keeps it; nofollow = true changes a symlink itself. */
static int mnt_chown (lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  uid_t uid = (uid_t)check_id(L, 2);
  gid_t gid = (gid_t)check_id(L, 3);
  int nofollow = opt_bool(L, 4);
  int rc = nofollow ? lchown(path, uid, gid) : chown(path, uid, gid);
  if (rc != 0)
    return nslua_fail(L, errno, nofollow ? "lchown" : "chown", path);
  return nslua_ok(L);
}

/*
** mount.mknod(path, "file"|"char"|"block"|"fifo"|"socket", mode [, major, minor])
**   -> true | nil, msg, errno
** The kernel's dev_t holds a 12-bit major and a 20-bit minor.
*/
static int mnt_mknod (lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  int type = luaL_checkoption(L, 2, NULL, mnt_node_names);
  mode_t mode = check_mode(L, 3, -1);
  lua_Integer major = luaL_optinteger(L, 4, 0);
  lua_Integer minor = luaL_optinteger(L, 5, 0);
  luaL_argcheck(L, major >= 0 && major <= 0xfff, 4, "major out of range (0..4095)");
  luaL_argcheck(L, minor >= 0 && minor <= 0xfffff, 5, "minor out of range (0..1048575)");
  if (mknod(path, mnt_node_types[type] | mode,
            makedev((unsigned int)major, (unsigned int)minor)) != 0)
    return nslua_fail(L, errno, "mknod", path);
  return nslua_ok(L);
}

/* mount.unlink(path) -> true | nil, msg, errno */
static int mnt_unlink (lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  if (unlink(path) != 0)
    return nslua_fail(L, errno, "unlink", path);
  return nslua_ok(L);
}

/* mount.rmdir(path) -> true | nil, msg, errno */
static int mnt_rmdir (lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  if (rmdir(path) != 0)
    return nslua_fail(L, errno, "rmdir", path);
  return nslua_ok(L);
}

/*
** mount.write_file(path, content [, mode = 0644]) -> true | nil, msg, errno
** O_NOFOLLOW: a symlink planted at 'path' is refused (ELOOP), never
** followed out of the tree being built.  The mode applies on creation.
*/
int nslua_write_file (const char *path, const char *content, size_t len,
                      unsigned int mode, const char **what) {
  size_t done = 0;
  int fd, err = 0;
  *what = "open";
  fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, (mode_t)mode);
  if (fd < 0)
    return errno;
  *what = "write";
  while (done < len) {
    ssize_t n = write(fd, content + done, len - done);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      err = errno;
      break;
    }
    if (n == 0) {  /* no progress: never spin */
      err = EIO;
      break;
    }
    done += (size_t)n;
  }
  if (close(fd) != 0 && err == 0) {
    err = errno;
    *what = "close";
  }
  return err;
}

static int mnt_write_file (lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  size_t len;
  const char *content = luaL_checklstring(L, 2, &len);
  mode_t mode = check_mode(L, 3, 0644);
  const char *what;
  int err = nslua_write_file(path, content, len, mode, &what);
  if (err != 0)
    return nslua_fail(L, err, what, path);
  return nslua_ok(L);
}

/* "fd N", the subject of a failure on a file descriptor. */
static const char *fd_subject (char *buf, size_t size, int fd) {
  snprintf(buf, size, "fd %d", fd);
  return buf;
}

/*
** mount.open_tree(path | fd [, {clone, rec, nofollow}]) -> fd box | nil, msg, errno
** Always OPEN_TREE_CLOEXEC.  With clone, a detached copy of the mount (rec:
** of the whole subtree) that the caller's current credentials opened: it
** can be attached later by move_mount, after the credentials that could
** not reach the path (a 0700 parent) are gone (kernel 5.2).  An fd (an
** integer or a box) names what it refers to (AT_EMPTY_PATH): nothing is
** looked up by name.
*/
static int mnt_open_tree (lua_State *L) {
  const char *path = "";
  char subject[32];
  int dfd = AT_FDCWD;
  unsigned int flags = (unsigned int)nslua_optflags(L, 2, mnt_tree_flags);
  int *box;
  long fd;
  if (lua_type(L, 1) == LUA_TSTRING)
    path = lua_tostring(L, 1);
  else
    dfd = nslua_checkfd(L, 1);
  box = nslua_newfd(L);
  fd = syscall(SYS_open_tree, dfd, path,
               flags | OPEN_TREE_CLOEXEC | (dfd == AT_FDCWD ? 0 : AT_EMPTY_PATH));
  if (fd < 0)
    return nslua_fail(L, errno, "open_tree",
                      dfd == AT_FDCWD ? path : fd_subject(subject, sizeof subject, dfd));
  *box = (int)fd;
  return 1;
}

/* mount.move_mount(fd, target) -> true | nil, msg, errno
** Attaches the tree of an open_tree (or fsmount) fd at 'target'. */
static int mnt_move_mount (lua_State *L) {
  int fd = nslua_checkfd(L, 1);
  const char *target = luaL_checkstring(L, 2);
  if (syscall(SYS_move_mount, fd, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) != 0)
    return nslua_fail(L, errno, "move_mount", target);
  return nslua_ok(L);
}

int nslua_setattr (int dfd, const char *path, unsigned long long set,
                   unsigned long long clr, int userns, int rec) {
  struct mount_attr attr;
  unsigned int at = (dfd == AT_FDCWD ? 0 : AT_EMPTY_PATH) | (rec ? AT_RECURSIVE : 0);
  memset(&attr, 0, sizeof attr);
  attr.attr_set = set;
  attr.attr_clr = clr;
  if ((set | clr) & MOUNT_ATTR__ATIME)
    attr.attr_clr |= MOUNT_ATTR__ATIME;
  if (userns >= 0) {
    attr.attr_set |= MOUNT_ATTR_IDMAP;
    attr.userns_fd = (unsigned int)userns;
  }
  return (int)syscall(SYS_mount_setattr, dfd, dfd == AT_FDCWD ? path : "", at, &attr, sizeof attr);
}

/*
** Kernel 5.6; RESOLVE_IN_ROOT makes a lookup treat 'dfd' as "/" (so a
** rootfs's own absolute links work as inside the sandbox) and fails a
** magic /proc link.  EAGAIN means a rename or mount elsewhere on the
** system raced a ".." step (openat2(2)): the lookup is retried.
*/
int nslua_open_in_root (int dfd, const char *path, int flags) {
  struct open_how how;
  int fd, tries = 0;
  memset(&how, 0, sizeof how);
  how.flags = (unsigned long long)(unsigned int)(flags | O_CLOEXEC);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  do
    fd = (int)syscall(SYS_openat2, dfd, path, &how, sizeof how);
  while (fd < 0 && errno == EAGAIN && ++tries < 64);
  return fd;
}

/*
** mount.mount_setattr(fd | path, set [, clear [, userns_fd [, rec]]])
**   -> true | nil, msg, errno
** Unlike MS_REMOUNT, only the named attributes change, so locked flags of
** the source need not be repeated (kernel 5.12).  The atime mode is one
** field: naming noatime or strictatime in either set replaces it (the
** kernel wants MOUNT_ATTR__ATIME in attr_clr then).  A userns fd makes an
** idmapped mount; the kernel accepts that only on a detached tree.
*/
static int mnt_mount_setattr (lua_State *L) {
  const char *path = "";
  int dfd = AT_FDCWD;
  struct mount_attr attr;
  char subject[32];
  int userns;

  if (lua_type(L, 1) == LUA_TSTRING) {
    path = lua_tostring(L, 1);
  } else {
    dfd = nslua_checkfd(L, 1);
    snprintf(subject, sizeof subject, "fd %d", dfd);
  }
  memset(&attr, 0, sizeof attr);
  attr.attr_set = nslua_optflags(L, 2, nslua_mnt_attr_flags);
  attr.attr_clr = nslua_optflags(L, 3, nslua_mnt_attr_flags);
  userns = nslua_optfd(L, 4, -1);
  luaL_argcheck(L, !((attr.attr_set & MOUNT_ATTR_NOATIME) &&
                   (attr.attr_set & MOUNT_ATTR_STRICTATIME)), 2,
                "'noatime' and 'strictatime' exclude each other");
  luaL_argcheck(L, userns >= 0 || !(attr.attr_set & MOUNT_ATTR_IDMAP), 2,
                "'idmap' needs a userns fd (argument #4)");
  if (nslua_setattr(dfd, path, attr.attr_set, attr.attr_clr, userns, opt_bool(L, 5)) != 0)
    return nslua_fail(L, errno, "mount_setattr", dfd == AT_FDCWD ? path : subject);
  return nslua_ok(L);
}


static const char *file_type (mode_t m) {
  switch (m & S_IFMT) {
    case S_IFDIR: return "dir";
    case S_IFREG: return "file";
    case S_IFLNK: return "link";
    case S_IFCHR: return "char";
    case S_IFBLK: return "block";
    case S_IFIFO: return "fifo";
    case S_IFSOCK: return "socket";
    default: return "unknown";
  }
}

static int push_stat (lua_State *L, const struct stat *st) {
  lua_createtable(L, 0, 7);
  lua_pushstring(L, file_type(st->st_mode));
  lua_setfield(L, -2, "type");
  lua_pushinteger(L, st->st_mode & 07777);
  lua_setfield(L, -2, "mode");
  lua_pushinteger(L, st->st_uid);
  lua_setfield(L, -2, "uid");
  lua_pushinteger(L, st->st_gid);
  lua_setfield(L, -2, "gid");
  lua_pushinteger(L, (lua_Integer)st->st_size);
  lua_setfield(L, -2, "size");
  lua_pushinteger(L, (lua_Integer)st->st_ino);
  lua_setfield(L, -2, "ino");
  lua_pushinteger(L, (lua_Integer)st->st_dev);
  lua_setfield(L, -2, "dev");
  lua_pushinteger(L, (lua_Integer)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec);
  lua_setfield(L, -2, "mtime_ns");
  return 1;
}

/* mount.stat(path | fd) -> {type, mode, uid, gid, size, ino, dev, mtime_ns} | nil, msg, errno
** An fd (an integer or a box) is fstat'ed. */
static int mnt_stat (lua_State *L) {
  struct stat st;
  char subject[32];
  if (lua_type(L, 1) != LUA_TSTRING) {
    int fd = nslua_checkfd(L, 1);
    if (fstat(fd, &st) != 0)
      return nslua_fail(L, errno, "stat", fd_subject(subject, sizeof subject, fd));
    return push_stat(L, &st);
  }
  if (stat(lua_tostring(L, 1), &st) != 0)
    return nslua_fail(L, errno, "stat", lua_tostring(L, 1));
  return push_stat(L, &st);
}

/* mount.lstat(path) -> like stat, without following a final symlink */
static int mnt_lstat (lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  struct stat st;
  if (lstat(path, &st) != 0)
    return nslua_fail(L, errno, "lstat", path);
  return push_stat(L, &st);
}

/* mount.readlink(path) -> target | nil, msg, errno */
static int mnt_readlink (lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  char buf[PATH_MAX];
  ssize_t n = readlink(path, buf, sizeof buf);
  if (n < 0)
    return nslua_fail(L, errno, "readlink", path);
  if ((size_t)n == sizeof buf)
    return nslua_fail(L, ENAMETOOLONG, "readlink", path);
  lua_pushlstring(L, buf, (size_t)n);
  return 1;
}

/*
** mount.readdir(path) -> {name, ...} without "." and ".." | nil, msg, errno
** getdents64 on an fd box and a GC-owned buffer: a raising push can then
** leak nothing (STYLE.md, the longjmp rule).
*/
static int mnt_readdir (lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  char buf[4096];               /* a dirent is at most 19 + 256 bytes */
  size_t bufsize = sizeof buf;
  int *box = nslua_newfd(L);
  int n = 0;
  lua_newtable(L);
  *box = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (*box < 0)
    return nslua_fail(L, errno, "open", path);
  for (;;) {
    long got = syscall(SYS_getdents64, *box, buf, bufsize);
    long off = 0;
    if (got < 0) {
      int err = errno;
      close(*box);
      *box = -1;
      return nslua_fail(L, err, "getdents64", path);
    }
    if (got == 0)
      break;
    while (off < got) {
      /* struct linux_dirent64: ino, off, reclen, type, name */
      unsigned short reclen;
      const char *name = buf + off + 19;
      memcpy(&reclen, buf + off + 16, sizeof reclen);
      if (strcmp(name, ".") != 0 && strcmp(name, "..") != 0) {
        lua_pushstring(L, name);
        lua_rawseti(L, -2, ++n);
      }
      off += reclen;
    }
  }
  close(*box);
  *box = -1;
  return 1;
}

/* renameat2(arg 1, arg 2, flags); a failure names 'what' and arg 2 */
static int rename_as (lua_State *L, unsigned int flags, const char *what) {
  const char *from = luaL_checkstring(L, 1);
  const char *to = luaL_checkstring(L, 2);
  if (renameat2(AT_FDCWD, from, AT_FDCWD, to, flags) != 0)
    return nslua_fail(L, errno, what, to);
  return nslua_ok(L);
}

/*
** mount.rename(old, new) -> true | nil, msg, errno
** RENAME_NOREPLACE: an existing 'new' is EEXIST, never replaced (a plain
** rename would replace an empty directory).
*/
static int mnt_rename (lua_State *L) {
  return rename_as(L, RENAME_NOREPLACE, "rename");
}

/*
** mount.exchange(a, b) -> true | nil, msg, errno
** RENAME_EXCHANGE: a and b (both must exist) swap names atomically.  A
** file replaced this way is not flushed first, as ext4 does for a rename
** over an existing file (auto_da_alloc): a record update costs ~30 us
** there, not ~250 us.
*/
static int mnt_exchange (lua_State *L) {
  return rename_as(L, RENAME_EXCHANGE, "rename (exchange)");
}

/* ------------------------------------------------------------------ */
/* tree_chown, tree_remove: a directory tree walked by fds              */
/* ------------------------------------------------------------------ */

/*
** One walk, iterative, of any depth.  Nothing is looked up through a
** symlink: the top is opened O_DIRECTORY|O_NOFOLLOW, every entry opened
** O_PATH|O_NOFOLLOW (or O_DIRECTORY|O_NOFOLLOW) relative to its parent's
** fd and statx'd through that fd, so the checks and the chown act on one
** object.  A directory on another mount (another st_dev or another mount
** id: a bind mount of the same file system too) is EXDEV and nothing is
** done below it; a non-directory that is a mount root (a file bind mount)
** is EXDEV as well.
**
** At most four fds are open, whatever the depth: the top's, the current
** directory's, while that is listed its stream and one entry's.  Memory
** grows instead (malloc, freed before anything is pushed): a directory
** is listed whole first (non-directories handled there and then, the
** names of its subdirectories kept in 'names'), then its subdirectories
** are entered one by one, by name, from its fd, which is then closed.
** Climbing back opens ".." of the finished directory and checks that it
** is the directory the walk came down from: the same st_dev, mount id,
** inode number and birth time (where the file system keeps one) as saved
** in 'frames' on the way down; an inode number alone could be a deleted
** directory's, reused.  Else ESTALE (EXDEV for another mount): a
** directory moved or replaced while the walk was below it never leads
** the walk up into a directory outside the tree.  The top's fd stays
** open and is never reopened; ".." of a first-level directory must be
** the top.  'path' is for messages only (truncated when too long).
*/
typedef struct tree_frame {
  unsigned long long ino;
  long long btime_sec;
  unsigned int btime_nsec;
  int has_btime;
  size_t name;                  /* offset in names: this dir's name */
  size_t next, end;             /* its subdirectories still to walk */
  size_t plen;                  /* length of path before its name */
} tree_frame;

typedef struct tree_walk {
  int remove;                   /* 1: tree_remove; 0: tree_chown */
  int keep_special;
  int has_from;                 /* chown only what from_uid owns */
  uid_t from_uid;
  uid_t uid;
  gid_t gid;
  dev_t dev;
  unsigned long long mnt_id;
  int err;
  const char *op;               /* the failing call */
  tree_frame *frames;           /* malloc'd, freed by tree_run */
  size_t nframes, capframes;
  char *names;                  /* malloc'd: NUL-terminated names, a stack */
  size_t nnames, capnames;
  size_t len;                   /* of path */
  size_t over;                  /* names not appended to path (too long) */
  char path[PATH_MAX + 1];
} tree_walk;

/* Append "/name" to w->path, or count it when it does not fit. */
static void tree_push (tree_walk *w, const char *name) {
  size_t n = strlen(name);
  if (w->over == 0 && w->len + 1 + n < sizeof w->path) {
    w->path[w->len] = '/';
    memcpy(w->path + w->len + 1, name, n + 1);
    w->len += 1 + n;
  } else
    w->over++;
}

static void tree_pop (tree_walk *w, size_t old) {
  if (w->over > 0) {
    w->over--;
    return;
  }
  w->len = old;
  w->path[old] = '\0';
}

static int tree_error (tree_walk *w, const char *op, int err) {
  w->op = op;
  w->err = err;
  return -1;
}

static const char *tree_op (const tree_walk *w) {
  return w->remove ? "tree_remove" : "tree_chown";
}

/* Is the statx result on the walk's mount? */
static int tree_same_mount (const tree_walk *w, const struct statx *stx) {
  if (makedev(stx->stx_dev_major, stx->stx_dev_minor) != w->dev)
    return 0;
  if ((stx->stx_mask & STATX_MNT_ID) && stx->stx_mnt_id != w->mnt_id)
    return 0;
  if ((stx->stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)
      && (stx->stx_attributes & STATX_ATTR_MOUNT_ROOT))
    return 0;
  return 1;
}

/* Is the entry to be chowned (from_uid)? */
static int tree_owned (const tree_walk *w, const struct statx *stx) {
  return !w->has_from || ((stx->stx_mask & STATX_UID) && stx->stx_uid == w->from_uid);
}

#define TREE_STATX (STATX_TYPE | STATX_MNT_ID | STATX_UID | STATX_INO | STATX_BTIME)

static int tree_fstatx (int fd, struct statx *stx) {
  return statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, TREE_STATX, stx);
}

/* Grow an array to hold at least 'need' elements of 'size' bytes. */
static int tree_grow (void **p, size_t *cap, size_t need, size_t size) {
  size_t n = *cap ? *cap : 64;
  void *q;
  while (n < need) {
    if (n > ((size_t)-1 / 2) / size)
      return -1;
    n *= 2;
  }
  if (n == *cap)
    return 0;
  q = realloc(*p, n * size);
  if (q == NULL)
    return -1;
  *p = q;
  *cap = n;
  return 0;
}

/* Push a frame for the directory open at fd (statx'd in stx). */
static int tree_enter (tree_walk *w, const struct statx *stx, size_t name) {
  tree_frame *f;
  if (tree_grow((void **)&w->frames, &w->capframes, w->nframes + 1, sizeof *f) != 0)
    return tree_error(w, "malloc", ENOMEM);
  f = &w->frames[w->nframes++];
  memset(f, 0, sizeof *f);
  f->ino = stx->stx_ino;
  f->has_btime = (stx->stx_mask & STATX_BTIME) != 0;
  if (f->has_btime) {
    f->btime_sec = stx->stx_btime.tv_sec;
    f->btime_nsec = stx->stx_btime.tv_nsec;
  }
  f->name = name;
  f->plen = w->len;
  f->next = f->end = w->nnames;
  return 0;
}

/* Is the statx result the directory of frame f? */
static int tree_is_frame (const tree_frame *f, const struct statx *stx) {
  if (!(stx->stx_mask & STATX_INO) || stx->stx_ino != f->ino)
    return 0;
  if (f->has_btime != ((stx->stx_mask & STATX_BTIME) != 0))
    return 0;
  return !f->has_btime || (stx->stx_btime.tv_sec == f->btime_sec
                           && stx->stx_btime.tv_nsec == f->btime_nsec);
}

/*
** One entry of the directory dfd, while it is listed: a subdirectory's
** name is kept for later, anything else is handled now.
*/
static int tree_leaf (tree_walk *w, int dfd, const char *name) {
  struct statx stx;
  int fd, rc = 0;
  fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT ? 0 : tree_error(w, "openat", errno);
  if (tree_fstatx(fd, &stx) != 0) {
    rc = tree_error(w, "statx", errno);
    close(fd);
    return rc;
  }
  if (S_ISDIR(stx.stx_mode)) {
    size_t n = strlen(name) + 1;
    close(fd);
    if (tree_grow((void **)&w->names, &w->capnames, w->nnames + n, 1) != 0)
      return tree_error(w, "malloc", ENOMEM);
    memcpy(w->names + w->nnames, name, n);
    w->nnames += n;
    return 0;
  }
  if (!tree_same_mount(w, &stx))
    rc = tree_error(w, tree_op(w), EXDEV);
  else if (w->remove || !(S_ISREG(stx.stx_mode) || w->keep_special)) {
    /* by name: a link in a verified directory, whatever it became */
    if (unlinkat(dfd, name, 0) != 0 && errno != ENOENT)
      rc = tree_error(w, "unlinkat", errno);
  } else if (tree_owned(w, &stx)
             && fchownat(fd, "", w->uid, w->gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0)
    rc = tree_error(w, "fchownat", errno);
  close(fd);
  return rc;
}

/* List the directory open at fd (the top frame's): see tree_walk. */
static int tree_list (tree_walk *w, int fd) {
  struct dirent *de;
  DIR *d;
  int rc = 0, sfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (sfd < 0)
    return tree_error(w, "openat", errno);
  d = fdopendir(sfd);
  if (d == NULL) {
    rc = tree_error(w, "fdopendir", errno);
    close(sfd);
    return rc;
  }
  for (;;) {
    size_t old;
    errno = 0;
    if ((de = readdir(d)) == NULL) {
      if (errno != 0)
        rc = tree_error(w, "readdir", errno);
      break;
    }
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    old = w->len;
    tree_push(w, de->d_name);
    rc = tree_leaf(w, fd, de->d_name);
    if (rc != 0)
      break;            /* w->path names the failing entry */
    tree_pop(w, old);
  }
  closedir(d);
  w->frames[w->nframes - 1].end = w->nnames;
  return rc;
}
/*
** Enter the next subdirectory of the current one (open at *fd, closed
** unless it is the top), by name: 0 done (or nothing left to enter by
** that name), -1 failed.
*/
static int tree_down (tree_walk *w, int top, int *fd) {
  struct statx stx;
  tree_frame *f = &w->frames[w->nframes - 1];
  size_t name = f->next;
  const char *s = w->names + name;
  size_t plen = w->len;
  int cfd, rc;
  f->next += strlen(s) + 1;
  tree_push(w, s);
  cfd = openat(*fd, s, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (cfd < 0) {
    if (errno != ENOENT)
      return tree_error(w, "openat", errno);
    tree_pop(w, plen);
    return 0;
  }
  /* the mount of what was opened, not of what was listed by name */
  if (tree_fstatx(cfd, &stx) != 0)
    rc = tree_error(w, "statx", errno);
  else if (!tree_same_mount(w, &stx))
    rc = tree_error(w, tree_op(w), EXDEV);
  else if (!w->remove && tree_owned(w, &stx) && fchown(cfd, w->uid, w->gid) != 0)
    rc = tree_error(w, "fchown", errno);
  else
    rc = tree_enter(w, &stx, name);
  if (rc != 0) {
    close(cfd);
    return rc;
  }
  w->frames[w->nframes - 1].plen = plen;
  if (*fd != top)
    close(*fd);
  *fd = cfd;
  return tree_list(w, cfd);
}

/*
** The current directory (open at *fd, not the top) is done: climb to its
** parent through "..", which must be the directory it was entered from,
** and (tree_remove) remove it there.
*/
static int tree_up (tree_walk *w, int top, int *fd) {
  struct statx stx;
  tree_frame *f = &w->frames[w->nframes - 1];
  int rc = 0, pfd = openat(*fd, "..", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (pfd < 0)
    return tree_error(w, "openat", errno);
  if (tree_fstatx(pfd, &stx) != 0)
    rc = tree_error(w, "statx", errno);
  else if (!tree_same_mount(w, &stx))
    rc = tree_error(w, tree_op(w), EXDEV);
  else if (!tree_is_frame(f - 1, &stx))
    rc = tree_error(w, tree_op(w), ESTALE);   /* moved: its ".." is elsewhere */
  if (rc != 0) {
    close(pfd);
    return rc;
  }
  close(*fd);
  if (w->nframes == 2) {        /* the parent is the top: its own fd */
    close(pfd);
    pfd = top;
  }
  *fd = pfd;
  /* a name in a verified directory: whatever it is now, ENOTEMPTY unless empty */
  if (w->remove && unlinkat(pfd, w->names + f->name, AT_REMOVEDIR) != 0
      && errno != ENOENT)
    return tree_error(w, "unlinkat", errno);
  tree_pop(w, f->plen);
  w->nnames = f[-1].end;
  w->nframes--;
  return 0;
}

/* The walk below the top (open at top, statx'd in stx; left open). */
static int tree_walk_all (tree_walk *w, int top, const struct statx *stx) {
  int fd = top, rc;
  if (tree_enter(w, stx, 0) != 0)
    return -1;
  rc = tree_list(w, top);
  while (rc == 0) {
    tree_frame *f = &w->frames[w->nframes - 1];
    if (f->next < f->end)
      rc = tree_down(w, top, &fd);
    else if (w->nframes > 1)
      rc = tree_up(w, top, &fd);
    else
      break;
  }
  if (fd != top)
    close(fd);
  return rc;
}

/* tree_chown and tree_remove: the top, then the walk. */
static int tree_run (lua_State *L, tree_walk *w, const char *path) {
  struct statx stx;
  size_t n = strlen(path);
  int fd, rc, err;
  memcpy(w->path, path, n < sizeof w->path ? n + 1 : sizeof w->path);
  w->path[sizeof w->path - 1] = '\0';
  w->len = strlen(w->path);
  while (w->len > 1 && w->path[w->len - 1] == '/')  /* messages: no "//" */
    w->path[--w->len] = '\0';
  fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT && w->remove)
      return nslua_ok(L);
    return nslua_fail(L, errno, "open", path);
  }
  if (tree_fstatx(fd, &stx) != 0) {
    err = errno;
    close(fd);
    return nslua_fail(L, err, "statx", path);
  }
  w->dev = makedev(stx.stx_dev_major, stx.stx_dev_minor);
  w->mnt_id = (stx.stx_mask & STATX_MNT_ID) ? stx.stx_mnt_id : 0;
  if (!w->remove && tree_owned(w, &stx) && fchown(fd, w->uid, w->gid) != 0) {
    err = errno;
    close(fd);
    return nslua_fail(L, err, "fchown", path);
  }
  rc = tree_walk_all(w, fd, &stx);
  close(fd);
  free(w->frames);
  free(w->names);
  w->frames = NULL;
  w->names = NULL;
  if (rc != 0)
    return nslua_fail(L, w->err, w->op, w->path);
  if (w->remove && rmdir(path) != 0 && errno != ENOENT)
    return nslua_fail(L, errno, "rmdir", path);
  return nslua_ok(L);
}

/*
** mount.tree_chown(path, uid, gid [, keep_special [, from_uid]])
**   -> true | nil, msg, errno
** Chown the directory 'path', and every directory and regular file below
** it, at any depth, never following a symlink and never leaving its mount
** (EXDEV); ESTALE when a directory was moved while the walk was below it.
** Other entries (symlinks, fifos, sockets, devices) are unlinked, or with
** keep_special chowned themselves (isolate's --special-files).  With
** from_uid only entries that uid owns are chowned (the top too), the rest
** left as they are (directories among them still walked): a file another
** user owns, hard-linked into the tree, keeps its owner.  The unlinking
** is the same either way (it changes no linked file).  The message names
** the failing entry.
*/
static int mnt_tree_chown (lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  tree_walk *w;
  lua_Integer uid = luaL_checkinteger(L, 2), gid = luaL_checkinteger(L, 3);
  int keep_special = opt_bool(L, 4);
  int has_from = !lua_isnoneornil(L, 5);
  lua_Integer from = luaL_optinteger(L, 5, 0);
  luaL_argcheck(L, uid >= 0 && uid < 0xffffffffLL, 2, "id out of range (0..4294967294)");
  luaL_argcheck(L, gid >= 0 && gid < 0xffffffffLL, 3, "id out of range (0..4294967294)");
  luaL_argcheck(L, from >= 0 && from < 0xffffffffLL, 5, "id out of range (0..4294967294)");
  w = (tree_walk *)lua_newuserdatauv(L, sizeof *w, 0);
  memset(w, 0, sizeof *w);
  w->uid = (uid_t)uid;
  w->gid = (gid_t)gid;
  w->keep_special = keep_special;
  w->has_from = has_from;
  w->from_uid = (uid_t)from;
  return tree_run(L, w, path);
}

/*
** mount.tree_remove(path) -> true | nil, msg, errno
** Remove the directory 'path' and everything below it, at any depth,
** under the rules of tree_chown (no symlink followed, EXDEV at another
** mount, ESTALE for a directory moved during the walk); a missing path
** is success.
*/
static int mnt_tree_remove (lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  tree_walk *w = (tree_walk *)lua_newuserdatauv(L, sizeof *w, 0);
  memset(w, 0, sizeof *w);
  w->remove = 1;
  return tree_run(L, w, path);
}

static const luaL_Reg mnt_funcs[] = {
  {"chdir", mnt_chdir},
  {"chmod", mnt_chmod},
  {"chown", mnt_chown},
  {"chroot", mnt_chroot},
  {"lstat", mnt_lstat},
  {"mkdir", mnt_mkdir},
  {"mkfifo", mnt_mkfifo},
  {"mkfile", mnt_mkfile},
  {"mknod", mnt_mknod},
  {"mount", mnt_mount},
  {"mount_setattr", mnt_mount_setattr},
  {"move_mount", mnt_move_mount},
  {"open_tree", mnt_open_tree},
  {"pivot", mnt_pivot},
  {"pivot_root", mnt_pivot_root},
  {"readdir", mnt_readdir},
  {"readlink", mnt_readlink},
  {"rename", mnt_rename},
  {"exchange", mnt_exchange},
  {"rmdir", mnt_rmdir},
  {"stat", mnt_stat},
  {"symlink", mnt_symlink},
  {"tree_chown", mnt_tree_chown},
  {"tree_remove", mnt_tree_remove},
  {"umount", mnt_umount},
  {"unlink", mnt_unlink},
  {"write_file", mnt_write_file},
  {NULL, NULL}
};

int nslua_open_mount (lua_State *L) {
  luaL_newlib(L, mnt_funcs);
  luaL_setfuncs(L, nslua_guard_funcs, 0);
  return 1;
}
