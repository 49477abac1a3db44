/* steps.c - the executor's mount steps: paths resolved in the new root, mounts by fd. */
/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <linux/capability.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "nslua.h"
#include "status.h"
#include "setup.h"

/* A "setup" status record (status.h), then _exit(1). */
static void fail (int status_fd, const char *stepname, int err, const char *prefix,
                  const char *call, const char *subject, const char *note)
  __attribute__((noreturn));
static void fail (int status_fd, const char *stepname, int err, const char *prefix,
                  const char *call, const char *subject, const char *note) {
  nslua_status_setup(status_fd, stepname, err, prefix, call, subject, note);
  _exit(1);
}

/*
** The mount steps' paths.  A step's path under /newroot is looked up in
** an O_PATH fd of the new root with openat2(RESOLVE_IN_ROOT |
** RESOLVE_NO_MAGICLINKS) (nslua_open_in_root): a symlink it meets, in a
** rootfs or under a bind target, is followed as the sandbox would follow
** it, inside the new root, and ".." stops there; /.oldroot (the host) is
** out of its reach.  Anything else (/newroot itself, /.files, /.overlay/N)
** is the scaffolding tmpfs, nslua's own, looked up the same way from its
** root (the cwd).  Missing directories are made one component at a time
** with mkdirat in the fd of the resolved parent, files with openat
** (O_CREAT | O_EXCL | O_NOFOLLOW), symlinks with symlinkat.
**
** Mounts go onto the resolved fd: detached trees (privileged binds, the
** rootfs) by move_mount(MOVE_MOUNT_T_EMPTY_PATH); mount_setattr on the fd
** (AT_EMPTY_PATH); a read-only path by open_tree of the fd, mount_setattr
** of the clone and move_mount back onto the fd; new file systems and
** binds by mount(2) onto "/proc/self/fd/N" of the host's /proc (at
** /.oldroot/proc).  That last one is what runc does since CVE-2021-30465
** (libcontainer/utils WithProcfd: securejoin, an O_PATH fd, then mount(2)
** on /proc/self/fd/N) and crun's do_mount (safe_openat with openat2
** RESOLVE_IN_ROOT, then mount(2) on get_proc_self_fd_path): the kernel
** jumps to exactly the fd's dentry, nothing is walked again.  It costs one
** syscall where fsopen + fsconfig per option + fsmount + move_mount cost
** five or more (every sandbox runs ~35 steps), and the plan keeps
** mount(2)'s flags and data strings, which `nslua explain` prints.  An
** overlay is the exception: its layers go by fsconfig, one string each,
** because a path in a mount(2) data string cannot hold ':' or ','.
*/

/* What a mount target is known to be, so that a mount need not fstat it. */
enum { T_UNKNOWN, T_FILE, T_NEWDIR };

typedef struct mounts {
  int status_fd, strict;        /* where failures go; a rootfs root */
  char *scratch;                /* PATH_MAX, on the child's stack */
  int root;                     /* O_PATH fd of /newroot's top mount; -1: open on use */
  dev_t root_dev;
  ino_t root_ino;
  const char *cpath;            /* the last mkdir or mkfile step's path, */
  int cfd, ckind;               /* its fd and T_*, for the mount step on it */
  const char *dpath;            /* a directory (dpath[0..dlen)) files and links */
  size_t dlen;                  /* were made in, and its fd: /dev's nodes and */
  int dfd;                      /* links share one lookup */
  char fdpath[sizeof PROC_FD + 24 + NAME_MAX];
} mounts;

/* A mount step's failure: its record names the spec's path ('what'); on
** a read-only rootfs a missing mount point says why it cannot be made. */
static void fail_at (const mounts *m, const step *s, int err, const char *call,
                     const char *subject, const char *note) __attribute__((noreturn));
static void fail_at (const mounts *m, const step *s, int err, const char *call,
                     const char *subject, const char *note) {
  const char *what = s->what ? s->what : s->path;
  if (err == EROFS && m->strict && strncmp(subject, NEW_ROOT "/", sizeof NEW_ROOT) == 0 &&
      (s->op == OP_MKDIR || s->op == OP_MKFILE)) {
    char pre[PATH_MAX + 80];
    snprintf(pre, sizeof pre, "%s: missing mount point (the root file system is read-only)", what);
    fail(m->status_fd, "mounts", err, pre, call, subject, note);
  }
  fail(m->status_fd, "mounts", err, what, call, subject,
       note ? note : err == ENOSPC && strcmp(call, "mount") == 0
                   ? " (too many mounts: see fs.mount-max)" : NULL);
}

static int root_fd (mounts *m, const step *s) {
  struct stat st;
  if (m->root >= 0)
    return m->root;
  if ((m->root = open(NEW_ROOT, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0 || fstat(m->root, &st) != 0)
    fail_at(m, s, errno, "open", NEW_ROOT, NULL);
  m->root_dev = st.st_dev;
  m->root_ino = st.st_ino;
  return m->root;
}

/* Where 'path' is looked up: *dfd and the path relative to it, or NULL
** when 'path' is the new root itself (*dfd is then its fd). */
static const char *where (mounts *m, const step *s, const char *path, int *dfd) {
  const size_t n = sizeof NEW_ROOT - 1;
  if (strncmp(path, NEW_ROOT, n) == 0 && (path[n] == '/' || path[n] == '\0')) {
    const char *rel = path + n;
    while (*rel == '/')
      rel++;
    *dfd = root_fd(m, s);
    return *rel != '\0' ? rel : NULL;
  }
  *dfd = AT_FDCWD;
  while (*path == '/')
    path++;
  return *path != '\0' ? path : ".";
}

/* The fd of 'path' (the new root's own, or one to close with put), or
** -1 with errno. */
static int open_path (mounts *m, const step *s, const char *path, int flags) {
  int dfd;
  const char *rel = where(m, s, path, &dfd);
  return rel == NULL ? dfd : nslua_open_in_root(dfd, rel, flags);
}

/* Close an fd unless it is the new root's or the cached directory's. */
static void put (const mounts *m, int fd) {
  if (fd >= 0 && fd != m->root && fd != m->dfd)
    close(fd);
}

static const char *fd_path (mounts *m, int fd) {
  snprintf(m->fdpath, sizeof m->fdpath, PROC_FD "%d", fd);
  return m->fdpath;
}

/* Forget the last mkdir's or mkfile's fd (a step other than its mount). */
static void drop (mounts *m) {
  int fd = m->cfd;
  m->cpath = NULL;
  m->cfd = -1;
  put(m, fd);
}

static void forget_dir (mounts *m) {
  int fd = m->dfd;
  m->dpath = NULL;
  m->dfd = -1;
  put(m, fd);
}

/* The directory path[0..len) from the cache, or the new root's when it
** is /newroot; -1 if neither. */
static int cached_dir (mounts *m, const step *s, const char *path, size_t len) {
  if (len == sizeof NEW_ROOT - 1 && memcmp(path, NEW_ROOT, len) == 0)
    return root_fd(m, s);
  if (m->dpath != NULL && m->dlen == len && memcmp(m->dpath, path, len) == 0)
    return m->dfd;
  return -1;
}

/* After a mount on 'fd' (a target of 'kind'): a mount on a directory may
** hide what the cached directory fd names, so it goes; a mount on the new
** root (by its path, or through a link that leads there) makes the next
** lookup reopen it, so it starts in the new top mount, as the pivot will. */
static void mounted (mounts *m, int fd, int kind) {
  struct stat st;
  int isdir = kind != T_FILE, on_root = fd == m->root;
  if (!on_root && kind == T_UNKNOWN && fstat(fd, &st) == 0) {
    isdir = S_ISDIR(st.st_mode);
    on_root = m->root >= 0 && st.st_dev == m->root_dev && st.st_ino == m->root_ino;
  }
  put(m, fd);
  if (isdir)
    forget_dir(m);
  if (on_root && m->root >= 0) {
    close(m->root);
    m->root = -1;
  }
}

/* The target of a mount step: the fd the mkdir or mkfile step before it
** made, or 'path' resolved now; fails the step naming 'call'. */
static int target (mounts *m, const step *s, const char *call, int *kind) {
  int fd;
  if (m->cpath != NULL && strcmp(m->cpath, s->path) == 0) {
    fd = m->cfd;
    *kind = m->ckind;
    m->cpath = NULL;
    m->cfd = -1;
    return fd;
  }
  drop(m);
  *kind = T_UNKNOWN;
  if ((fd = open_path(m, s, s->path, O_PATH)) < 0)
    fail_at(m, s, errno, call, s->path, NULL);
  return fd;
}

/* A directory made by mkdirat in 'parent' (made = 1), or an existing
** entry (made = 0: EEXIST) looked up from the root, following a link
** inside it; the fd, or a failure naming buf (the path up to it). */
static int made_dir (mounts *m, const step *s, char *buf, int dfd, const char *rel,
                     int parent, const char *name, int made) {
  int fd = made ? nslua_open_in_root(parent, name, O_PATH | O_DIRECTORY | O_NOFOLLOW)
                : nslua_open_in_root(dfd, rel, O_PATH | O_DIRECTORY);
  if (fd < 0)
    fail_at(m, s, errno, "mkdir", buf,
            made || errno != ENOENT ? NULL : " (a symlink that leads nowhere in the new root)");
  return fd;
}

/*
** mkdir -p of path[0..len) inside its root: its fd; *fresh tells whether
** the last component was made here (with 'mode'; missing parents get
** 'pmode'; set-up runs with umask 0, so both are exact; each one made is
** given to s->uid, s->gid when set).  With the parent at hand (the new
** root, or the cached directory) it is one mkdirat and one lookup;
** otherwise an existing directory is one lookup, and for a missing one
** the deepest existing ancestor is found from the end, then each missing
** component is made with mkdirat in its parent's fd.  A fresh directory
** is opened with O_NOFOLLOW (a link raced into its place fails); an
** existing entry is looked up from the root, so a link there is followed
** inside the root.
*/
static int make_dirs (mounts *m, const step *s, const char *path, size_t len,
                      unsigned int mode, unsigned int pmode, int *fresh) {
  char *buf = m->scratch;
  const char *rel;
  size_t off, a, b, n = len;
  int dfd, fd, parent, owned = 0, err, made = 0;
  if (n >= PATH_MAX)
    fail_at(m, s, ENAMETOOLONG, "mkdir", s->path, NULL);
  memcpy(buf, path, n);
  buf[n] = '\0';
  while (n > 1 && buf[n - 1] == '/')
    buf[--n] = '\0';
  *fresh = 0;
  if ((rel = where(m, s, buf, &dfd)) == NULL)
    return dfd;
  if (rel < buf || rel > buf + n) {         /* the scaffolding's root */
    if ((fd = nslua_open_in_root(dfd, rel, O_PATH | O_DIRECTORY)) < 0)
      fail_at(m, s, errno, "mkdir", "/", NULL);
    return fd;
  }
  off = (size_t)(rel - buf);
  for (a = n; a > off && buf[a - 1] != '/'; a--)
    ;
  for (b = a; b > off && buf[b - 1] == '/'; b--)
    ;
  parent = b > off ? cached_dir(m, s, buf, b) : dfd;
  if (parent < 0) {
    if ((fd = nslua_open_in_root(dfd, rel, O_PATH | O_DIRECTORY)) >= 0)
      return fd;
    if (errno != ENOENT)
      fail_at(m, s, errno, "mkdir", buf, NULL);
    /* back to the deepest ancestor that exists: the part from 'a' is missing */
    parent = dfd;
    for (b = n;;) {
      char c;
      for (a = b; a > off && buf[a - 1] != '/'; a--)
        ;
      for (b = a; b > off && buf[b - 1] == '/'; b--)
        ;
      if (b == off)
        break;
      c = buf[b];
      buf[b] = '\0';
      fd = nslua_open_in_root(dfd, rel, O_PATH | O_DIRECTORY);
      err = errno;
      if (fd >= 0) {
        buf[b] = c;
        parent = fd;
        owned = 1;
        break;
      }
      if (err != ENOENT)
        fail_at(m, s, err, "mkdir", buf, NULL);
      buf[b] = c;
    }
  }
  /* then forward, one component at a time */
  while (a < n) {
    char c;
    for (b = a; b < n && buf[b] != '/'; b++)
      ;
    c = buf[b];
    buf[b] = '\0';
    made = mkdirat(parent, buf + a, (mode_t)(b < n ? pmode : mode)) == 0;
    if (!made && errno != EEXIST)
      fail_at(m, s, errno, "mkdir", buf, NULL);
    fd = made_dir(m, s, buf, dfd, rel, parent, buf + a, made);
    if (made && s->uid >= 0 &&
        fchownat(fd, "", (uid_t)s->uid, (gid_t)s->gid, AT_EMPTY_PATH) != 0)
      fail_at(m, s, errno, "chown", buf, NULL);
    if (owned)
      close(parent);
    parent = fd;
    owned = 1;
    buf[b] = c;
    for (a = b; a < n && buf[a] == '/'; a++)
      ;
  }
  *fresh = made;
  return parent;
}

/* An empty file at 'path' to mount on (an existing non-directory will
** do, as bwrap's ensure_file): its fd, made 0444 with O_CREAT | O_EXCL |
** O_NOFOLLOW in its directory (which the cache keeps for the next one;
** missing parents get s->parents); an existing entry is looked up from
** the root. */
static int make_file (mounts *m, const step *s, const char *path) {
  struct stat st;
  const char *base = strrchr(path, '/');
  size_t dlen = base != NULL ? (size_t)(base - path) : 0;
  int fd, parent, fresh;
  if (base == NULL || base[1] == '\0')
    fail_at(m, s, EINVAL, "open", path, NULL);
  if ((parent = cached_dir(m, s, path, dlen)) < 0) {
    parent = make_dirs(m, s, path, dlen, s->parents, s->parents, &fresh);
    if (parent != m->root) {
      forget_dir(m);
      m->dpath = path;
      m->dlen = dlen;
      m->dfd = parent;
    }
  }
  fd = openat(parent, base + 1, O_RDONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444);
  if (fd >= 0 || errno != EEXIST) {
    if (fd < 0)
      fail_at(m, s, errno, "open", path, NULL);
    return fd;
  }
  if ((fd = open_path(m, s, path, O_PATH)) < 0 || fstat(fd, &st) != 0)
    fail_at(m, s, errno, "open", path, NULL);
  if (S_ISDIR(st.st_mode))
    fail_at(m, s, EISDIR, "open", path, NULL);
  return fd;
}

/* The fd of the directory 'path' names the last component of (the
** cache keeps it for the next one): *base. */
static int open_parent (mounts *m, const step *s, const char *path, const char **base,
                        const char *call) {
  char *buf = m->scratch;
  const char *slash = strrchr(path, '/');
  size_t n = slash != NULL ? (size_t)(slash - path) : 0;
  int fd;
  if (slash == NULL || slash[1] == '\0' || n >= PATH_MAX)
    fail_at(m, s, EINVAL, call, path, NULL);
  *base = slash + 1;
  if ((fd = cached_dir(m, s, path, n)) >= 0)
    return fd;
  memcpy(buf, path, n);
  buf[n] = '\0';
  if ((fd = open_path(m, s, n > 0 ? buf : "/", O_PATH | O_DIRECTORY)) < 0)
    fail_at(m, s, errno, call, path, NULL);
  if (fd != m->root) {
    forget_dir(m);
    m->dpath = path;
    m->dlen = n;
    m->dfd = fd;
  }
  return fd;
}

/* The source of a bind step named by a caller's fd (s->src_fd): s->src,
** the path the parent read from that fd, opened here (the fd's own mount
** belongs to the caller's mount namespace, where mount(2) cannot take it
** from) and checked to be the same file; its O_PATH fd, which the mount
** then goes by, so nothing is looked up by name after the check. */
static int same_source (mounts *m, const step *s) {
  struct stat a, b;
  int fd = open(s->src, O_PATH | O_CLOEXEC);
  if (fd < 0)
    fail_at(m, s, errno, "open", s->src, NULL);
  if (fstat(fd, &a) != 0 || fstat(s->src_fd, &b) != 0) {
    int err = errno;
    close(fd);
    fail_at(m, s, err, "stat", s->src, NULL);
  }
  if (a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
    close(fd);
    fail_at(m, s, EXDEV, "open", s->src, " (not the file the source fd refers to: moved or replaced)");
  }
  return fd;
}

/* A bind mount or a new file system onto the target of s. */
static void mount_step (mounts *m, const step *s) {
  char src[sizeof PROC_FD + 24] = "";
  int fd, kind, sfd = -1;
  if (s->src_fd >= 0) {
    sfd = same_source(m, s);
    snprintf(src, sizeof src, PROC_FD "%d", sfd);
  }
  fd = target(m, s, "mount", &kind);
  if (mount(sfd >= 0 ? src : s->src, fd_path(m, fd), s->fstype, s->flags, s->data) != 0) {
    int err = errno;
    if (sfd >= 0)
      close(sfd);
    fail_at(m, s, err, "mount", s->path, NULL);
  }
  if (sfd >= 0)
    close(sfd);
  mounted(m, fd, kind);
}

/* mount_setattr on the target of s; with s->mountpoint the target must be
** a mount's root (remount-ro names a mount, not the one a path is in). */
static void attr_step (mounts *m, const step *s) {
  struct statx stx;
  int fd = open_path(m, s, s->path, O_PATH);
  if (fd < 0)
    fail_at(m, s, errno, "mount_setattr", s->path, NULL);
  if (s->mountpoint) {
    if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_TYPE, &stx) != 0) {
      int err = errno;
      put(m, fd);
      fail_at(m, s, err, "statx", s->path, NULL);
    }
    if (!(stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) ||
        !(stx.stx_attributes & STATX_ATTR_MOUNT_ROOT)) {
      put(m, fd);
      fail_at(m, s, EINVAL, "mount_setattr", s->path, " (not a mount point)");
    }
  }
  if (nslua_setattr(fd, "", s->set, s->clr, -1, s->rec) != 0) {
    int err = errno;
    put(m, fd);
    fail_at(m, s, err, "mount_setattr", s->path, NULL);
  }
  put(m, fd);
}

/* A symlink; an existing one with the same text will do (bwrap's
** --symlink), anything else at the path fails, saying what is there. */
static void symlink_step (mounts *m, const step *s) {
  char note[PATH_MAX + 48];
  const char *base = NULL;
  int fd = open_parent(m, s, s->path, &base, "symlink");
  ssize_t n;
  if (symlinkat(s->target, fd, base) == 0)
    return;
  if (errno != EEXIST)
    fail_at(m, s, errno, "symlink", s->path, NULL);
  n = readlinkat(fd, base, m->scratch, PATH_MAX);
  if (n < 0 && errno == EINVAL)
    fail_at(m, s, EEXIST, "symlink", s->path, " (the destination exists and is not a symlink)");
  if (n < 0 || n >= PATH_MAX)
    fail_at(m, s, n < 0 ? errno : ENAMETOOLONG, "readlink", s->path, NULL);
  if ((size_t)n == strlen(s->target) && memcmp(m->scratch, s->target, (size_t)n) == 0)
    return;
  m->scratch[n] = '\0';
  snprintf(note, sizeof note, " (existing destination is %s)", m->scratch);
  fail_at(m, s, EEXIST, "symlink", s->path, note);
}

/* A file with s->content at s->path (bwrap's creat): made with s->mode
** (and given to s->uid, s->gid) when it is new, truncated when it is a
** regular file there (O_NONBLOCK: a FIFO there fails, it never blocks);
** O_NOFOLLOW, in its parent's resolved fd: a link at the file itself is
** refused. */
static void write_step (mounts *m, const step *s) {
  const char *base = NULL;
  struct stat st;
  size_t done = 0;
  int made = 1, parent = open_parent(m, s, s->path, &base, "open");
  int fd = openat(parent, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)s->mode);
  if (fd < 0 && errno == EEXIST) {
    made = 0;
    /* O_CREAT: fs.protected_regular then refuses a file another user
    ** planted in a sticky world-writable directory, as for creat(2) */
    fd = openat(parent, base, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
                (mode_t)s->mode);
  }
  if (fd < 0)
    fail_at(m, s, errno, "open", s->path, NULL);
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    fail_at(m, s, err, "stat", s->path, NULL);
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    fail_at(m, s, EEXIST, "open", s->path, " (not a regular file)");
  }
  if (made && s->uid >= 0 && fchown(fd, (uid_t)s->uid, (gid_t)s->gid) != 0) {
    int err = errno;
    close(fd);
    fail_at(m, s, err, "chown", s->path, NULL);
  }
  while (done < s->len) {
    ssize_t n = write(fd, s->content + done, s->len - done);
    if (n <= 0 && !(n < 0 && errno == EINTR)) {
      int err = n < 0 ? errno : EIO;
      close(fd);
      fail_at(m, s, err, "write", s->path, NULL);
    }
    if (n > 0)
      done += (size_t)n;
  }
  if (close(fd) != 0)
    fail_at(m, s, errno, "close", s->path, NULL);
}

/* The mount_setattr attributes of mount(2) flags. */
static unsigned int attrs_of (unsigned long flags) {
  return (flags & MS_RDONLY ? MOUNT_ATTR_RDONLY : 0) | (flags & MS_NOSUID ? MOUNT_ATTR_NOSUID : 0) |
         (flags & MS_NODEV ? MOUNT_ATTR_NODEV : 0) | (flags & MS_NOEXEC ? MOUNT_ATTR_NOEXEC : 0);
}

/* An overlay failure: the kernel's own words from the context's log
** (fsopen(2)), when it left some, as the note. */
static void overlay_fail (mounts *m, const step *s, int fs, int err, const char *call,
                          const char *subject) __attribute__((noreturn));
static void overlay_fail (mounts *m, const step *s, int fs, int err, const char *call,
                          const char *subject) {
  char log[256], note[sizeof log + 4];
  ssize_t n = fs >= 0 ? read(fs, log, sizeof log - 1) : -1;
  if (fs >= 0)
    close(fs);
  if (n > 2) {
    log[n] = '\0';
    log[strcspn(log, "\n")] = '\0';
    snprintf(note, sizeof note, " (%s)", log);
  }
  fail_at(m, s, err, call, subject, n > 2 ? note : NULL);
}

/* 'in' with each backslash doubled into out[size]: overlayfs unescapes
** the upperdir and workdir strings (not "lowerdir+" ones).  0 or ENAMETOOLONG. */
static int ovl_escape (const char *in, char *out, size_t size) {
  size_t j = 0;
  for (; *in != '\0'; in++) {
    if (j + 3 > size)
      return ENAMETOOLONG;
    if (*in == '\\')
      out[j++] = '\\';
    out[j++] = *in;
  }
  out[j] = '\0';
  return 0;
}

/* An overlay by the new mount API: each layer is one fsconfig string
** ("lowerdir+", kernel 6.8), so a path may hold ':', ',', '\\' or spaces,
** which a mount(2) data string would split or unescape.  No upper layer:
** the lower layers only (read-only; the kernel wants two at least). */
static void overlay_step (mounts *m, const step *s) {
  size_t i;
  int fs, mnt, fd, kind;
  if ((fs = (int)syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC)) < 0)
    fail_at(m, s, errno, "fsopen", "overlay", NULL);
  for (i = 0; i < s->nlower; i++)
    if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "lowerdir+", s->lower[i], 0) != 0)
      overlay_fail(m, s, fs, errno, "fsconfig lowerdir+", s->lower[i]);
  if (s->upper != NULL) {
    char esc[2 * PATH_MAX];
    int err = ovl_escape(s->upper, esc, sizeof esc);
    if (err != 0 || syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "upperdir", esc, 0) != 0)
      overlay_fail(m, s, fs, err != 0 ? err : errno, "fsconfig upperdir", s->upper);
  }
  if (s->work != NULL) {
    char esc[2 * PATH_MAX];
    int err = ovl_escape(s->work, esc, sizeof esc);
    if (err != 0 || syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "workdir", esc, 0) != 0)
      overlay_fail(m, s, fs, err != 0 ? err : errno, "fsconfig workdir", s->work);
  }
  /* user.overlay.* xattrs: set-up runs in a user namespace */
  if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) != 0)
    overlay_fail(m, s, fs, errno, "fsconfig userxattr", s->path);
  /* uid/gid: the overlay keeps its creator's credentials for the work
  ** directory, copy-ups and whiteouts; made with the payload's fsuid and
  ** fsgid (an idmapped upper maps only those), it writes as the payload.
  ** The fs capabilities come back when fsuid is 0 again. */
  if (s->uid >= 0) {
    /* the kernel drops the fs capabilities from the effective set when
    ** fsuid leaves 0; the overlay needs them (it makes its work directory
    ** mode 0), so they are set again from the saved ones */
    struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct caps[_LINUX_CAPABILITY_U32S_3];
    int puid, pgid, err = 0;
    if (syscall(SYS_capget, &hdr, caps) != 0)
      overlay_fail(m, s, fs, errno, "capget", s->path);
    pgid = setfsgid((gid_t)s->gid);
    puid = setfsuid((uid_t)s->uid);
    if (setfsuid((uid_t)-1) != (int)s->uid || setfsgid((gid_t)-1) != (int)s->gid)
      err = EPERM;
    else if (syscall(SYS_capset, &hdr, caps) != 0)
      err = errno;
    else if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) != 0)
      err = errno;
    (void)setfsuid((uid_t)puid);
    (void)setfsgid((gid_t)pgid);
    if (err != 0)
      overlay_fail(m, s, fs, err, "fsconfig create", s->path);
  } else if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) != 0)
    overlay_fail(m, s, fs, errno, "fsconfig create", s->path);
  mnt = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, attrs_of(s->flags));
  if (mnt < 0)
    overlay_fail(m, s, fs, errno, "fsmount", s->path);
  close(fs);
  fd = target(m, s, "move_mount", &kind);
  if (syscall(SYS_move_mount, mnt, "", fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0) {
    int err = errno;
    close(mnt);
    fail_at(m, s, err, "move_mount", s->path, NULL);
  }
  close(mnt);
  mounted(m, fd, kind);
}

/*
** A sysctl of the sandbox's namespaces: s->content written to s->target
** ("sys/net/ipv4/ip_forward"; validated: no "..", only the namespaced
** keys) in the proc at s->path, the new root's /proc (a proc file system
** there, before the read-only paths), or else the host's at /.oldroot/proc.
** The kernel takes the net or ipc namespace of the writer whichever proc
** the file is opened in; RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
** RESOLVE_NO_XDEV keep the lookup inside that one proc mount, so nothing
** mounted or linked over /proc/sys is followed.
*/
static void sysctl_step (mounts *m, const step *s) {
  struct statfs sf;
  struct open_how how;
  char subject[PATH_MAX];
  const char *proc = s->path;
  int pfd, fd, err = 0;
  ssize_t w;
  pfd = open_path(m, s, s->path, O_PATH | O_DIRECTORY);
  if (pfd >= 0 && (fstatfs(pfd, &sf) != 0 || sf.f_type != PROC_SUPER_MAGIC)) {
    put(m, pfd);
    pfd = -1;
  }
  if (pfd < 0) {
    proc = OLD_ROOT "/proc";
    if ((pfd = open(proc, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
      fail_at(m, s, errno, "open", proc, NULL);
  }
  snprintf(subject, sizeof subject, "%s/%s", proc, s->target);
  memset(&how, 0, sizeof how);
  how.flags = O_WRONLY | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
  fd = (int)syscall(SYS_openat2, pfd, s->target, &how, sizeof how);
  if (fd < 0)
    err = errno;
  put(m, pfd);
  if (fd < 0)
    fail_at(m, s, err, "open", subject, NULL);
  w = write(fd, s->content, s->len);
  if (w < 0)
    err = errno;
  else if ((size_t)w != s->len)
    err = EIO;
  close(fd);
  if (err != 0)
    fail_at(m, s, err, "write", subject, NULL);
}

/* A device node of s->major:s->minor at s->path, mode s->mode, owned by
** s->uid/s->gid (the sandbox has no user namespace: it may mknod), or a
** FIFO (s->fifo: OCI's type "p"; no capability needed, so in a user
** namespace too).  An existing node of the same kind and numbers will
** do; anything else there fails with EEXIST. */
static void devbind_step (mounts *m, const step *s);

static void mknod_step (mounts *m, const step *s) {
  struct stat st;
  const char *base;
  mode_t type = s->fifo ? S_IFIFO : s->blockdev ? S_IFBLK : S_IFCHR;
  dev_t dev = s->fifo ? 0 : makedev(s->major, s->minor);
  int parent = open_parent(m, s, s->path, &base, "mknod");
  if (mknodat(parent, base, type | (s->mode & 07777), dev) != 0) {
    /* EPERM: we are root of a user namespace the caller was already in
    ** (rootless podman runs the runtime so): a bind of the host's node,
    ** runc's fallback (createDeviceNode) */
    if (errno == EPERM && !s->fifo) {
      m->cfd = make_file(m, s, s->path);
      m->ckind = T_FILE;
      m->cpath = s->path;
      devbind_step(m, s);
      return;
    }
    if (errno != EEXIST)
      fail_at(m, s, errno, "mknod", s->path, NULL);
    if (fstatat(parent, base, &st, AT_SYMLINK_NOFOLLOW) != 0)
      fail_at(m, s, errno, "stat", s->path, NULL);
    if ((st.st_mode & S_IFMT) != type || (!s->fifo && st.st_rdev != dev))
      fail_at(m, s, EEXIST, "mknod", s->path, " (another file is there)");
  }
  if ((s->uid >= 0 || s->gid >= 0) &&
      fchownat(parent, base, s->uid >= 0 ? (uid_t)s->uid : (uid_t)-1,
               s->gid >= 0 ? (gid_t)s->gid : (gid_t)-1, AT_SYMLINK_NOFOLLOW) != 0)
    fail_at(m, s, errno, "chown", s->path, NULL);
}

/* Depth-first search of the directory 'path' (at most 'depth' levels
** below it, no symlink followed) for a node of 'type' and 'dev': 1 and
** its path in out, or 0. */
static int find_node (char *path, size_t len, size_t size, mode_t type, dev_t dev, int depth) {
  struct dirent *e;
  struct stat st;
  int found = 0, fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  DIR *d;
  if (fd < 0)
    return 0;
  if ((d = fdopendir(fd)) == NULL) {
    close(fd);
    return 0;
  }
  while (!found && (e = readdir(d)) != NULL) {
    size_t n = strlen(e->d_name);
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 || len + 1 + n + 1 > size)
      continue;
    if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
      continue;
    path[len] = '/';
    memcpy(path + len + 1, e->d_name, n + 1);
    if ((st.st_mode & S_IFMT) == type && st.st_rdev == dev)
      found = 1;
    else if (S_ISDIR(st.st_mode) && depth > 0)
      found = find_node(path, len + 1 + n, size, type, dev, depth - 1);
    if (!found)
      path[len] = '\0';
  }
  closedir(d);
  return found;
}

/* A bind of the host's node of the kind and numbers of s on the file at
** s->path (the mkfile step before made it): the host's node of the same
** name under /dev if it matches, else the first one a search of the
** host's /dev finds. */
static void devbind_step (mounts *m, const step *s) {
  char src[PATH_MAX];
  struct stat st;
  mode_t type = s->blockdev ? S_IFBLK : S_IFCHR;
  dev_t dev = makedev(s->major, s->minor);
  const char *rel = strstr(s->path, "/dev/");
  int fd, kind;
  src[0] = '\0';
  if (rel != NULL)
    snprintf(src, sizeof src, OLD_ROOT "%s", rel);
  if (src[0] == '\0' || lstat(src, &st) != 0 || (st.st_mode & S_IFMT) != type || st.st_rdev != dev) {
    snprintf(src, sizeof src, OLD_ROOT "/dev");
    if (!find_node(src, strlen(src), sizeof src, type, dev, 4)) {
      char note[80];
      snprintf(note, sizeof note, " (no %s device %u:%u on the host to bind)",
               s->blockdev ? "block" : "character", s->major, s->minor);
      fail_at(m, s, ENODEV, "mount", s->path, note);
    }
  }
  fd = target(m, s, "mount", &kind);
  if (mount(src, fd_path(m, fd), NULL, MS_BIND, NULL) != 0)
    fail_at(m, s, errno, "mount", s->path, NULL);
  mounted(m, fd, kind);
}

static void run_step (mounts *m, const step *s) {
  struct stat st;
  int fd, tree, kind;
  if (s->op != OP_MOUNT && s->op != OP_MOVE && s->op != OP_OVERLAY && s->op != OP_DEVBIND)
    drop(m);
  switch (s->op) {
    case OP_MOUNT:
      mount_step(m, s);
      return;
    case OP_OVERLAY:
      overlay_step(m, s);
      return;
    case OP_ATTR:
      attr_step(m, s);
      return;
    case OP_MOVE:
      fd = target(m, s, "move_mount", &kind);
      if (syscall(SYS_move_mount, s->fd, "", fd, "",
                  MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
        fail_at(m, s, errno, "move_mount", s->path, NULL);
      mounted(m, fd, kind);
      return;
    case OP_MKDIR:
      m->cfd = make_dirs(m, s, s->path, strlen(s->path), s->mode, s->parents, &kind);
      m->ckind = kind ? T_NEWDIR : T_UNKNOWN;
      m->cpath = s->path;
      return;
    case OP_MKFILE:
      m->cfd = make_file(m, s, s->path);
      m->ckind = T_FILE;
      m->cpath = s->path;
      return;
    case OP_SYMLINK:
      symlink_step(m, s);
      return;
    case OP_CHMOD:
      if ((fd = open_path(m, s, s->path, O_PATH)) < 0 || chmod(fd_path(m, fd), s->mode) != 0)
        fail_at(m, s, errno, "chmod", s->path, NULL);
      put(m, fd);
      return;
    case OP_WRITE:
      write_step(m, s);
      return;
    case OP_SYSCTL:
      sysctl_step(m, s);
      return;
    case OP_MKNOD:
      mknod_step(m, s);
      return;
    case OP_DEVBIND:
      devbind_step(m, s);
      return;
    case OP_MASK:  /* a directory gets an empty read-only tmpfs, anything else /dev/null */
    case OP_RO:
      if ((fd = open_path(m, s, s->path, O_PATH)) < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
          return;                           /* a missing target is skipped */
        fail_at(m, s, errno, s->op == OP_RO ? "open_tree" : "mount", s->path, NULL);
      }
      if (s->op == OP_MASK) {
        if (fstat(fd, &st) != 0)
          fail_at(m, s, errno, "mount", s->path, NULL);
        if (S_ISDIR(st.st_mode) ? mount("tmpfs", fd_path(m, fd), "tmpfs",
                                        MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                                        "size=4096,mode=0555") != 0
                                : mount(OLD_ROOT "/dev/null", fd_path(m, fd), NULL, MS_BIND, NULL) != 0)
          fail_at(m, s, errno, "mount", s->path, NULL);
        mounted(m, fd, S_ISDIR(st.st_mode) ? T_UNKNOWN : T_FILE);
        return;
      }
      /* a read-only recursive bind of itself: the clone is made read-only
      ** before it is attached */
      tree = (int)syscall(SYS_open_tree, fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
                          AT_RECURSIVE | AT_EMPTY_PATH);
      if (tree < 0)
        fail_at(m, s, errno, "open_tree", s->path, NULL);
      if (nslua_setattr(tree, "", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
                        0, -1, 1) != 0)
        fail_at(m, s, errno, "mount_setattr", s->path, NULL);
      if (syscall(SYS_move_mount, tree, "", fd, "",
                  MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
        fail_at(m, s, errno, "move_mount", s->path, NULL);
      close(tree);
      mounted(m, fd, T_UNKNOWN);
      return;
    default:
      return;
  }
}

/* The mount steps in order, then their fds are closed.  umask 0 while they
** run: the modes a plan names (a dir's, a file's) are exact, as in bwrap;
** the command gets the caller's umask back. */
void nslua_steps_run (const step *steps, size_t n, int strict, char *scratch, int status_fd) {
  mounts m;
  size_t i;
  mode_t mask = umask(0);
  memset(&m, 0, sizeof m);
  m.status_fd = status_fd;
  m.strict = strict;
  m.scratch = scratch;
  m.root = m.cfd = m.dfd = -1;
  for (i = 0; i < n; i++)
    run_step(&m, &steps[i]);
  drop(&m);
  forget_dir(&m);
  if (m.root >= 0)
    close(m.root);
  umask(mask);
}

/* The scaffolding: private propagation, a tmpfs root with the host's root
** at /.oldroot and the new root at /newroot (rootfs.enter). */
void nslua_steps_enter (int status_fd, unsigned long long scaffold_size) {
  char data[64];
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
    fail(status_fd, "mounts", errno, NULL, "mount", "/", NULL);
  snprintf(data, sizeof data, "mode=0700,size=%llu", scaffold_size);
  if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, data) != 0)
    fail(status_fd, "mounts", errno, NULL, "mount", "/tmp", NULL);
  if (mkdir("/tmp" OLD_ROOT, 0700) != 0)
    fail(status_fd, "mounts", errno, NULL, "mkdir", "/tmp" OLD_ROOT, NULL);
  if (mkdir("/tmp" NEW_ROOT, 0700) != 0)
    fail(status_fd, "mounts", errno, NULL, "mkdir", "/tmp" NEW_ROOT, NULL);
  if (syscall(SYS_pivot_root, "/tmp", "/tmp" OLD_ROOT) != 0)
    fail(status_fd, "mounts", errno, NULL, "pivot_root", "/tmp", NULL);
  if (chdir("/") != 0)
    fail(status_fd, "mounts", errno, NULL, "chdir", "/", NULL);
}

/* Drop the host's root and make /newroot the root (rootfs.finish). */
void nslua_steps_finish (int status_fd) {
  if (umount2(OLD_ROOT, MNT_DETACH) != 0)
    fail(status_fd, "pivot", errno, NULL, "umount", OLD_ROOT, NULL);
  if (chdir(NEW_ROOT) != 0)
    fail(status_fd, "pivot", errno, NULL, "chdir", NEW_ROOT, NULL);
  if (syscall(SYS_pivot_root, ".", ".") != 0)
    fail(status_fd, "pivot", errno, NULL, "pivot_root", ".", NULL);
  if (umount2(".", MNT_DETACH) != 0)
    fail(status_fd, "pivot", errno, NULL, "umount", ".", NULL);
  if (chdir("/") != 0)
    fail(status_fd, "pivot", errno, NULL, "chdir", "/", NULL);
}

