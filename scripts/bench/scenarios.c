/* scenarios.c - the limit: the least a sandbox of each scenario costs. */
/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "scenarios.h"

extern char **environ;

/* the S5 sandbox's inside root maps to this host id (unprivileged, unused) */
#define S5_HOST_ID 1100000000u
#define S5_MEMORY "268435456"
#define S5_PIDS "64"
#define S5_CPU_S 10

static char errbuf[512];

/* bench_errmsg() -> the last failure's message */
const char *bench_errmsg (void) {
  return errbuf;
}

static int fail (int err, const char *op, const char *subject) {
  if (subject)
    snprintf(errbuf, sizeof errbuf, "%s '%s': %s", op, subject, strerror(err));
  else
    snprintf(errbuf, sizeof errbuf, "%s: %s", op, strerror(err));
  errno = err;
  return -1;
}

/* bench_scenario("S2") -> BENCH_S2 | -1 */
int bench_scenario (const char *name) {
  if (name && name[0] == 'S' && name[1] >= '1' && name[1] <= '5' && !name[2])
    return name[1] - '0';
  return -1;
}

/* raw clone with fork semantics, as nslua's ns.clone does */
static pid_t raw_clone (unsigned long flags) {
  return (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
}

static int write_file (const char *path, const char *data) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  ssize_t n;
  int err;
  if (fd < 0)
    return -1;
  n = write(fd, data, strlen(data));
  err = errno;
  close(fd);
  errno = err;
  return n == (ssize_t)strlen(data) ? 0 : -1;
}

/* ---- cgroups (S5): detected once per process ---- */

struct cg {
  char base[PATH_MAX];  /* the caller's own cgroup in this hierarchy */
  int v2;
};

static struct cg cg_mem, cg_pids;
static int cg_detected;  /* 0 not yet, 1 ok, -1 failed */

/* the caller's cgroup path for 'ctrl' ("" = the v2 line) from /proc/self/cgroup */
static int own_cgroup (const char *ctrl, char *out, size_t size) {
  char line[1024];
  FILE *f = fopen("/proc/self/cgroup", "re");
  int found = 0;
  if (!f)
    return 0;
  while (!found && fgets(line, sizeof line, f)) {
    char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    char *tok, *save;
    if (!c2)
      continue;
    *c2 = '\0';
    line[strcspn(line, "\n")] = '\0';
    c2[1 + strcspn(c2 + 1, "\n")] = '\0';
    if (!*ctrl) {
      found = c1[1] == '\0';
    } else {
      for (tok = strtok_r(c1 + 1, ",", &save); tok && !found;
           tok = strtok_r(NULL, ",", &save))
        found = strcmp(tok, ctrl) == 0;
    }
    if (found)
      snprintf(out, size, "%s", c2 + 1);
  }
  fclose(f);
  return found;
}

static int has_word (const char *list, const char *word, const char *seps) {
  size_t n = strlen(word);
  const char *p = list;
  while ((p = strstr(p, word)) != NULL) {
    if ((p == list || strchr(seps, p[-1])) && (p[n] == '\0' || strchr(seps, p[n])))
      return 1;
    p += n;
  }
  return 0;
}

/* find the hierarchy of 'ctrl': a v1 mount naming it, else a v2 mount enabling it */
static int detect_one (const char *ctrl, struct cg *cg) {
  char line[4096], v2mnt[PATH_MAX] = "", v2root[PATH_MAX] = "", rel[PATH_MAX];
  FILE *f = fopen("/proc/self/mountinfo", "re");
  int found = 0;
  if (!f)
    return 0;
  while (!found && fgets(line, sizeof line, f)) {
    char root[PATH_MAX], mnt[PATH_MAX], *dash = strstr(line, " - ");
    char fstype[64], src[256], opts[1024];
    if (!dash || sscanf(line, "%*s %*s %*s %4095s %4095s", root, mnt) != 2 ||
        sscanf(dash + 3, "%63s %255s %1023s", fstype, src, opts) != 3)
      continue;
    if (strcmp(fstype, "cgroup") == 0 && has_word(opts, ctrl, ",")) {
      if (!own_cgroup(ctrl, rel, sizeof rel))
        break;
      /* the mount's root is a prefix of our path when the mount is a subtree */
      if (strcmp(root, "/") != 0 && strncmp(rel, root, strlen(root)) == 0)
        memmove(rel, rel + strlen(root), strlen(rel + strlen(root)) + 1);
      snprintf(cg->base, sizeof cg->base, "%s%s", mnt, strcmp(rel, "/") ? rel : "");
      cg->v2 = 0;
      found = 1;
    } else if (strcmp(fstype, "cgroup2") == 0 && !*v2mnt) {
      snprintf(v2mnt, sizeof v2mnt, "%s", mnt);
      snprintf(v2root, sizeof v2root, "%s", root);
    }
  }
  fclose(f);
  if (!found && *v2mnt) {
    char path[PATH_MAX + 32], ctrls[512] = "";
    FILE *c;
    snprintf(path, sizeof path, "%s/cgroup.controllers", v2mnt);
    if ((c = fopen(path, "re")) != NULL) {
      if (!fgets(ctrls, sizeof ctrls, c))
        ctrls[0] = '\0';
      fclose(c);
    }
    ctrls[strcspn(ctrls, "\n")] = '\0';
    if (has_word(ctrls, ctrl, " ") && own_cgroup("", rel, sizeof rel)) {
      if (strcmp(v2root, "/") != 0 && strncmp(rel, v2root, strlen(v2root)) == 0)
        memmove(rel, rel + strlen(v2root), strlen(rel + strlen(v2root)) + 1);
      snprintf(cg->base, sizeof cg->base, "%s%s", v2mnt, strcmp(rel, "/") ? rel : "");
      cg->v2 = 1;
      found = 1;
    }
  }
  return found;
}

static int cg_detect (void) {
  if (cg_detected == 0) {
    if (!detect_one("memory", &cg_mem))
      cg_detected = -1, fail(ENOENT, "cgroup detect", "memory");
    else if (!detect_one("pids", &cg_pids))
      cg_detected = -1, fail(ENOENT, "cgroup detect", "pids");
    else
      cg_detected = 1;
  }
  return cg_detected > 0 ? 0 : -1;
}

struct cg_run {
  char dir[2][PATH_MAX + 64];
  int ndirs;
  int procs[2];         /* cgroup.procs, inherited by the command */
};

static void cg_remove (struct cg_run *c) {
  int i, tries;
  for (i = 0; i < 2; i++)
    if (c->procs[i] >= 0)
      close(c->procs[i]), c->procs[i] = -1;
  for (i = 0; i < c->ndirs; i++)
    for (tries = 0; rmdir(c->dir[i]) != 0 && errno == EBUSY && tries < 100; tries++)
      nanosleep(&(struct timespec){0, 1000000}, NULL);
  c->ndirs = 0;
}

/* mkdir nslua-bench-<pid>-<n> in the memory and pids hierarchies, write limits */
static int cg_create (struct cg_run *c) {
  static unsigned long serial;
  const struct cg *cgs[2] = {&cg_mem, &cg_pids};
  int i;
  char file[PATH_MAX + 128];
  c->ndirs = 0;
  c->procs[0] = c->procs[1] = -1;
  if (cg_detect() != 0)
    return -1;
  serial++;
  for (i = 0; i < 2; i++) {
    if (i == 1 && cg_pids.v2 && cg_mem.v2) {
      c->procs[1] = -1;  /* one v2 group holds both limits */
      break;
    }
    snprintf(c->dir[i], sizeof c->dir[i], "%s/nslua-bench-%d-%lu", cgs[i]->base,
             (int)getpid(), serial);
    if (mkdir(c->dir[i], 0755) != 0)
      return fail(errno, "mkdir", c->dir[i]);
    c->ndirs++;
  }
  for (i = 0; i < c->ndirs; i++) {
    const struct cg *g = cgs[i];
    int both = c->ndirs == 1;
    if (i == 0 || both) {
      snprintf(file, sizeof file, "%s/%s", c->dir[i],
               g->v2 ? "memory.max" : "memory.limit_in_bytes");
      if (write_file(file, S5_MEMORY) != 0)
        return fail(errno, "write", file);
    }
    if (i == 1 || both) {
      snprintf(file, sizeof file, "%s/pids.max", c->dir[i]);
      if (write_file(file, S5_PIDS) != 0)
        return fail(errno, "write", file);
    }
    snprintf(file, sizeof file, "%s/cgroup.procs", c->dir[i]);
    if ((c->procs[i] = open(file, O_WRONLY | O_CLOEXEC)) < 0)
      return fail(errno, "open", file);
  }
  return 0;
}

/* ---- the child ---- */

static void child_fail (const char *op, const char *subject) {
  int err = errno;
  char msg[600];
  int n = snprintf(msg, sizeof msg, "limit: %s '%s': %s\n", op,
                   subject ? subject : "", strerror(err));
  if (write(2, msg, (size_t)n) < 0) {
    /* nothing left to report to */
  }
  _exit(125);
}

static void lo_up (void) {
  struct ifreq ifr;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    child_fail("socket", "AF_INET");
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  if (ioctl(fd, SIOCGIFFLAGS, &ifr) != 0)
    child_fail("SIOCGIFFLAGS", "lo");
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(fd, SIOCSIFFLAGS, &ifr) != 0)
    child_fail("SIOCSIFFLAGS", "lo");
  close(fd);
}

/* rootless (S3): map the caller's own ids to 0 */
static void self_maps (uid_t uid, gid_t gid) {
  char map[64];
  if (write_file("/proc/self/setgroups", "deny") != 0)
    child_fail("write", "/proc/self/setgroups");
  snprintf(map, sizeof map, "0 %u 1", (unsigned)uid);
  if (write_file("/proc/self/uid_map", map) != 0)
    child_fail("write", "/proc/self/uid_map");
  snprintf(map, sizeof map, "0 %u 1", (unsigned)gid);
  if (write_file("/proc/self/gid_map", map) != 0)
    child_fail("write", "/proc/self/gid_map");
}

static void join_cgroups (const struct cg_run *c) {
  int i;
  for (i = 0; i < 2; i++)
    if (c->procs[i] >= 0 && write(c->procs[i], "0", 1) != 1)
      child_fail("join", c->dir[i]);
}

static void child_setup (const struct bench_opts *o, int sync_fd, uid_t uid, gid_t gid) {
  int sc = o->scenario;
  if (sync_fd >= 0) {
    char b;
    if (read(sync_fd, &b, 1) != 1)
      _exit(125);
    close(sync_fd);
    if (setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0)
      child_fail("setresuid", "0");
  }
  if (sc == BENCH_S3)
    self_maps(uid, gid);
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
    child_fail("mount", "/");
  if (sc == BENCH_S4 || sc == BENCH_S5) {
    if (mount(o->root, o->root, NULL, MS_BIND | MS_REC, NULL) != 0)
      child_fail("bind", o->root);
    if (chdir(o->root) != 0)
      child_fail("chdir", o->root);
    /* proc while the host's /proc is still visible: in a user namespace
       the kernel refuses a proc mount when no full proc is (mount_too_revealing) */
    if (mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
      child_fail("mount", "proc");
    if (syscall(SYS_pivot_root, ".", ".") != 0)
      child_fail("pivot_root", o->root);
    if (umount2(".", MNT_DETACH) != 0)
      child_fail("umount2", ".");
    if (chdir("/") != 0)
      child_fail("chdir", "/");
  } else if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) {
    child_fail("mount", "/proc");
  }
  if (sethostname("bench", 5) != 0)
    child_fail("sethostname", "bench");
  if (sc != BENCH_S1)
    lo_up();
  if (sc == BENCH_S5) {
    struct rlimit rl = {S5_CPU_S, S5_CPU_S + 1};
    if (setrlimit(RLIMIT_CPU, &rl) != 0)
      child_fail("setrlimit", "cpu");
  }
}

static void exec_command (const struct bench_opts *o, const struct cg_run *c) {
  const char *path = o->path ? o->path : "/bin/true";
  char *argv[2] = {(char *)path, NULL};
  join_cgroups(c);
  execve(path, argv, environ);
  child_fail("execve", path);
}

/* the init of the process structure: fork the command, wait4, report, exit */
static void init_main (const struct bench_opts *o, const struct cg_run *c, int status_fd) {
  struct bench_result r;
  pid_t pid = raw_clone(0);
  if (pid < 0)
    child_fail("fork", "command");
  if (pid == 0) {
    close(status_fd);
    exec_command(o, c);
  }
  if (c->procs[0] >= 0)
    close(c->procs[0]);
  if (c->procs[1] >= 0)
    close(c->procs[1]);
  memset(&r, 0, sizeof r);
  while (wait4(pid, &r.status, 0, &r.ru) < 0)
    if (errno != EINTR)
      child_fail("wait4", "command");
  if (write(status_fd, &r, sizeof r) != (ssize_t)sizeof r)
    child_fail("write", "status");
  _exit(0);
}

/* ---- the parent ---- */

static const unsigned long scn_flags[] = {
  0,
  CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC,
  CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET,
  CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWUSER,
  CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET,
  CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWUSER,
};

/* parent side of S5: map inside 0 to S5_HOST_ID */
static int parent_maps (pid_t pid) {
  char path[64], map[64];
  snprintf(map, sizeof map, "0 %u 1", S5_HOST_ID);
  snprintf(path, sizeof path, "/proc/%d/uid_map", (int)pid);
  if (write_file(path, map) != 0)
    return fail(errno, "write", path);
  snprintf(path, sizeof path, "/proc/%d/gid_map", (int)pid);
  if (write_file(path, map) != 0)
    return fail(errno, "write", path);
  return 0;
}

static int wait_child (pid_t pid, int *status, struct rusage *ru) {
  while (wait4(pid, status, 0, ru) < 0)
    if (errno != EINTR)
      return fail(errno, "wait4", NULL);
  return 0;
}

/* bench_run(opts, res) -> 0 | -1: one sandbox, start to end */
int bench_run (const struct bench_opts *o, struct bench_result *r) {
  struct cg_run cg = {.ndirs = 0, .procs = {-1, -1}};
  int sync_fds[2] = {-1, -1}, status_fds[2] = {-1, -1};
  int sc = o->scenario, rc = -1, st;
  uid_t uid = geteuid();
  gid_t gid = getegid();
  struct rusage ru;
  pid_t pid;

  if (sc < BENCH_S1 || sc > BENCH_S5)
    return fail(EINVAL, "scenario", NULL);
  if ((sc == BENCH_S4 || sc == BENCH_S5) && !o->root)
    return fail(EINVAL, "scenario", "needs a root");
  memset(r, 0, sizeof *r);
  if (sc == BENCH_S5) {
    if (cg_create(&cg) != 0)
      goto out;
    if (pipe2(sync_fds, O_CLOEXEC) != 0) {
      fail(errno, "pipe2", "sync");
      goto out;
    }
  }
  if (o->structure && pipe2(status_fds, O_CLOEXEC) != 0) {
    fail(errno, "pipe2", "status");
    goto out;
  }
  pid = raw_clone(scn_flags[sc]);
  if (pid < 0) {
    fail(errno, "clone", NULL);
    goto out;
  }
  if (pid == 0) {
    if (sync_fds[1] >= 0)
      close(sync_fds[1]);
    if (status_fds[0] >= 0)
      close(status_fds[0]);
    child_setup(o, sync_fds[0], uid, gid);
    if (o->structure)
      init_main(o, &cg, status_fds[1]);
    exec_command(o, &cg);
  }
  if (sync_fds[0] >= 0)
    close(sync_fds[0]), sync_fds[0] = -1;
  if (status_fds[1] >= 0)
    close(status_fds[1]), status_fds[1] = -1;
  if (sc == BENCH_S5) {
    int mapped = parent_maps(pid);
    /* release the child either way: a failed map makes it fail set-up */
    if (mapped != 0 || write(sync_fds[1], "x", 1) != 1) {
      if (mapped == 0)
        fail(errno, "write", "sync");
      kill(pid, SIGKILL);
      wait_child(pid, &st, &ru);
      goto out;
    }
  }
  if (o->structure) {
    ssize_t n;
    while ((n = read(status_fds[0], r, sizeof *r)) < 0 && errno == EINTR)
      ;
    if (wait_child(pid, &st, &ru) != 0)
      goto out;
    if (n != (ssize_t)sizeof *r) {
      /* the init failed before reporting: pass its status on */
      memset(r, 0, sizeof *r);
      r->status = st;
      r->ru = ru;
    }
  } else {
    if (wait_child(pid, &r->status, &r->ru) != 0)
      goto out;
  }
  rc = 0;
out:
  if (sync_fds[0] >= 0)
    close(sync_fds[0]);
  if (sync_fds[1] >= 0)
    close(sync_fds[1]);
  if (status_fds[0] >= 0)
    close(status_fds[0]);
  if (status_fds[1] >= 0)
    close(status_fds[1]);
  if (sc == BENCH_S5) {
    int err = errno;
    cg_remove(&cg);
    errno = err;
  }
  return rc;
}
