/* setup.h - the executor's mount steps, shared by setup.c and steps.c. */
/* SPDX-License-Identifier: MIT */
#ifndef NSLUA_SETUP_H
#define NSLUA_SETUP_H

#include <stddef.h>

#pragma GCC visibility push(hidden)

/* During set-up the scaffolding tmpfs is the root, the host's root is at
** OLD_ROOT and the new root at NEW_ROOT (docs/internals.md). */
#define OLD_ROOT "/.oldroot"
#define NEW_ROOT "/newroot"
/* An fd's path in the host's /proc: mount(2) onto it mounts on the fd. */
#define PROC_FD OLD_ROOT "/proc/self/fd/"

#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#define MOUNT_ATTR_NOSUID 0x00000002
#define MOUNT_ATTR_NODEV  0x00000004
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif
#ifndef MOVE_MOUNT_T_EMPTY_PATH
#define MOVE_MOUNT_T_EMPTY_PATH 0x00000040
#endif
#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

enum { OP_MOUNT, OP_ATTR, OP_MOVE, OP_MKDIR, OP_MKFILE, OP_SYMLINK, OP_CHMOD,
       OP_WRITE, OP_MASK, OP_RO, OP_OVERLAY, OP_SYSCTL, OP_MKNOD, OP_DEVBIND };

typedef struct step {
  int op;
  const char *src, *path, *fstype, *data, *target, *what, *content;
  const char *upper, *work;     /* overlay: the upper layer, or NULL */
  const char **lower;           /* overlay: the lower layers, uppermost first */
  size_t len, nlower;
  unsigned long flags;          /* mount(2) flags */
  unsigned long long set, clr;  /* mount_setattr attributes: set, cleared */
  int rec, fd;
  int src_fd;                   /* mount: the source must be the file this caller's fd is, or -1 */
  int mountpoint;               /* attr: the target must be a mount point */
  unsigned int mode;
  unsigned int parents;         /* mkdir, mkfile: the mode of missing parent directories */
  long long uid, gid;           /* mkdir, write: the owner of what the step makes, or -1 */
  int blockdev;                 /* mknod, devbind: a block device (else character) */
  int fifo;                     /* mknod: a FIFO (no numbers) */
  unsigned int major, minor;
} step;


/* steps.c: the scaffolding (private propagation, a tmpfs root of
** 'scaffold_size' bytes with the host's root at OLD_ROOT), the steps in
** order, the pivot onto NEW_ROOT.  A failure writes its "setup" status
** record to status_fd and _exit(1)s: they never return one. */
void nslua_steps_enter (int status_fd, unsigned long long scaffold_size);
void nslua_steps_run (const step *steps, size_t n, int strict, char *scratch, int status_fd);
void nslua_steps_finish (int status_fd);

#pragma GCC visibility pop

#endif
