/* isolate-launcher.c - nslua-isolate: the setuid-root entry to `nslua isolate`. */
/* SPDX-License-Identifier: MIT */
/*
** Installed setuid root (mode 4750, group ISOLATE_GROUP) this program lets
** the members of one group run `nslua isolate` as root, as isolate(1)
** does.  It runs no policy and reads nothing the caller controls except
** its arguments and environment, which it passes on as data:
**
**   PROGRAM isolate ARGS...        (argv[0] "nslua")
**
** PROGRAM is the nslua program (csrc/launcher.c, `make install`'s
** $(BINDIR)/nslua), fixed at compile time like the paths below (Makefile
** ISOLATE_*); the caller's argv[0] is ignored and its ARGS come only after
** the fixed word "isolate", which picks the front end.  The environment
** is replaced by exactly
**
**   PATH=/usr/sbin:/usr/bin:/sbin:/bin
**   NSLUA_ISOLATE_CALLER=UID:GID   (getuid(), getgid())
**   NSLUA_ISOLATE_ENV_FD=N         (a sealed memfd: the caller's environ,
**                                   each entry followed by a NUL)
**   LUA_PATH_5_4=P
**   LUA_CPATH_5_4=C
**
** so no LUA_INIT runs, and P and C (absolute entries only, no ";;") replace
** Lua's default package paths, whose "./?.lua" and "./?.so" would load
** modules from the caller's working directory as root.  With
** NSLUA_ISOLATE_CALLER set the program loads modules from P and C only,
** never from a checkout or a prefix guessed from its own path.
*/
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#ifndef ISOLATE_PROGRAM
#error "ISOLATE_PROGRAM (the nslua program's path) comes from the Makefile"
#endif
#ifndef ISOLATE_LUA_PATH
#error "ISOLATE_LUA_PATH (package.path) comes from the Makefile"
#endif
#ifndef ISOLATE_LUA_CPATH
#error "ISOLATE_LUA_CPATH (package.cpath) comes from the Makefile"
#endif

#define PROG "nslua-isolate"
#define EXIT_INTERNAL 2

/* Bounds on what the caller may pass on.  The kernel already bounded
** them when it ran us (execve's E2BIG); these keep the root process's
** share small and say so in words.  CMS and Judge0 pass a few dozen. */
#define MAX_ARGS 65536
#define MAX_ARG_BYTES (1024 * 1024)

/* the fixed words before the caller's arguments */
#define FIXED_ARGS 2

extern char **environ;

static void die (const char *what) {
  fprintf(stderr, PROG ": %s: %s\n", what, strerror(errno));
  exit(EXIT_INTERNAL);
}

static void fail (const char *msg) {
  fprintf(stderr, PROG ": %s\n", msg);
  exit(EXIT_INTERNAL);
}

/* A compile-time value that is exec'd or becomes a package path: absolute
** (every entry of a path), with no control character, and no ";;" (which
** would add Lua's defaults, "./?.lua" among them). */
static int plain (const char *s, int path) {
  if (s[0] != '/') return 0;
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c < 0x20 || c == 0x7f) return 0;
    if (path && c == ';' && s[1] != '/') return 0;
  }
  return 1;
}

/* Fds 0-2 closed by the caller become /dev/null: otherwise the memfd,
** or a file the front end opens as root, would land on one of them and
** be read or written as stdio. */
static void fill_stdio (void) {
  int fd;
  for (fd = 0; fd <= 2; fd++) {
    int got;
    if (fcntl(fd, F_GETFD) >= 0) continue;
    if (errno != EBADF) die("fcntl");
    got = open("/dev/null", O_RDWR);
    if (got < 0) die("open '/dev/null'");
    if (got != fd) {
      /* cannot happen: open returns the lowest free fd */
      errno = EBADF;
      die("open '/dev/null'");
    }
  }
}

static void write_all (int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      die("write (the environment)");
    }
    p += w;
    n -= (size_t)w;
  }
}

/* The caller's environ in a sealed memfd (not close-on-exec): the front
** end reads it for -E VAR and -e, and nothing can change it after the
** seal.  RLIMIT_FSIZE is lifted already (reset_limits); SIGXFSZ is
** ignored while writing all the same, so a limit would be a message
** (EFBIG), never a signal to a setuid process. */
static int env_memfd (void) {
  struct sigaction ign, old;
  char **e;
  int fd = memfd_create("nslua-isolate-env", MFD_ALLOW_SEALING);
  if (fd < 0) die("memfd_create");
  memset(&ign, 0, sizeof ign);
  ign.sa_handler = SIG_IGN;
  if (sigemptyset(&ign.sa_mask) < 0) die("sigemptyset");
  if (sigaction(SIGXFSZ, &ign, &old) < 0) die("sigaction");
  for (e = environ; e && *e; e++) write_all(fd, *e, strlen(*e) + 1);
  if (sigaction(SIGXFSZ, &old, NULL) < 0) die("sigaction");
  if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
    die("fcntl F_ADD_SEALS");
  if (lseek(fd, 0, SEEK_SET) < 0) die("lseek");
  return fd;
}

/* Resource limits survive execve, so the caller's would bind the root
** front end: `ulimit -f 0` would kill it with SIGXFSZ halfway through
** writing its lock file or nslua's state record, `ulimit -t 1` with
** SIGXCPU mid-run, `ulimit -n 4` would leave it no fds.  File size and
** CPU time become unlimited (the sandbox gets the limits the front end
** sets for it), a core of this root process none, and the soft fd limit
** at least MIN_NOFILE (the hard one raised to that if lower).  Raising a
** hard limit needs CAP_SYS_RESOURCE, which a bounding set may lack: then
** a hard limit in the way is refused here, before anything is written,
** rather than met halfway. */
#define MIN_NOFILE 1024

static void set_limit (int resource, rlim_t soft, rlim_t hard, const char *name) {
  struct rlimit rl;
  char msg[160];
  rl.rlim_cur = soft;
  rl.rlim_max = hard;
  if (setrlimit(resource, &rl) == 0) return;
  if (errno != EPERM) {
    int err = errno;
    snprintf(msg, sizeof msg, "setrlimit %s", name);
    errno = err;
    die(msg);
  }
  snprintf(msg, sizeof msg, "setrlimit %s: the caller's hard limit is in the way"
           " and raising it needs CAP_SYS_RESOURCE", name);
  fail(msg);
}

static void reset_limits (void) {
  struct rlimit rl;
  set_limit(RLIMIT_FSIZE, RLIM_INFINITY, RLIM_INFINITY, "RLIMIT_FSIZE");
  set_limit(RLIMIT_CPU, RLIM_INFINITY, RLIM_INFINITY, "RLIMIT_CPU");
  set_limit(RLIMIT_CORE, 0, 0, "RLIMIT_CORE");
  if (getrlimit(RLIMIT_NOFILE, &rl) < 0) die("getrlimit RLIMIT_NOFILE");
  if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= MIN_NOFILE) return;
  if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < MIN_NOFILE) rl.rlim_max = MIN_NOFILE;
  set_limit(RLIMIT_NOFILE, MIN_NOFILE, rl.rlim_max, "RLIMIT_NOFILE");
}

/* A blocked signal and an ignored SIGCHLD survive execve.  The front end
** waits for its children and forwards signals: with SIGCHLD ignored the
** kernel reaps them and their status is lost (wait(2), NOTES).  Other
** ignored signals stay the caller's choice (nohup's SIGHUP). */
static void reset_signals (void) {
  struct sigaction dfl;
  sigset_t none;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  if (sigemptyset(&dfl.sa_mask) < 0 || sigemptyset(&none) < 0) die("sigemptyset");
  if (sigaction(SIGCHLD, &dfl, NULL) < 0) die("sigaction");
  if (sigprocmask(SIG_SETMASK, &none, NULL) < 0) die("sigprocmask");
}

int main (int argc, char **argv) {
  char caller[64], envfd[64];
  char *env[6];
  char **args;
  size_t bytes = 0;
  uid_t uid;
  gid_t gid;
  int fd, n, i, n_caller, n_envfd;

  if (geteuid() != 0) {
    /* the kernel ignores the setuid bit under no_new_privs (and on a
    ** nosuid mount, which looks the same as no setuid bit from here) */
    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1)
      fail("no_new_privs is set, so setuid root is ignored");
    fail("not installed setuid root");
  }
  if (!plain(ISOLATE_PROGRAM, 0) || !plain(ISOLATE_LUA_PATH, 1) || !plain(ISOLATE_LUA_CPATH, 1))
    fail("built with a bad ISOLATE_PROGRAM or ISOLATE_LUA_(C)PATH");

  /* argv[0] is the caller's to choose and is never used; argc may be 0 */
  n = argc > 1 ? argc - 1 : 0;
  if (n > MAX_ARGS) fail("too many arguments");
  for (i = 1; i <= n; i++) {
    bytes += strlen(argv[i]) + 1;
    if (bytes > MAX_ARG_BYTES) fail("the arguments are too long");
  }

  uid = getuid();
  gid = getgid();

  /* The group first: after setresuid the process could no longer change
  ** it.  Supplementary groups are kept: the front end opens --dir sources
  ** and the meta file with the caller's fs ids. */
  if (setresgid(0, 0, 0) < 0) die("setresgid");
  if (setresuid(0, 0, 0) < 0) die("setresuid");
  reset_limits();
  fill_stdio();
  fd = env_memfd();
  umask(022);
  reset_signals();

  n_caller = snprintf(caller, sizeof caller, "NSLUA_ISOLATE_CALLER=%lu:%lu",
                      (unsigned long)uid, (unsigned long)gid);
  n_envfd = snprintf(envfd, sizeof envfd, "NSLUA_ISOLATE_ENV_FD=%d", fd);
  if (n_caller < 0 || n_caller >= (int)sizeof caller || n_envfd < 0 ||
      n_envfd >= (int)sizeof envfd)
    fail("snprintf: the environment does not fit");
  env[0] = (char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin";
  env[1] = caller;
  env[2] = envfd;
  env[3] = (char *)"LUA_PATH_5_4=" ISOLATE_LUA_PATH;
  env[4] = (char *)"LUA_CPATH_5_4=" ISOLATE_LUA_CPATH;
  env[5] = NULL;

  args = calloc((size_t)n + FIXED_ARGS + 1, sizeof *args);
  if (!args) die("calloc");
  args[0] = (char *)"nslua";
  args[1] = (char *)"isolate";
  for (i = 0; i < n; i++) args[FIXED_ARGS + i] = argv[i + 1];
  args[FIXED_ARGS + n] = NULL;

  execve(ISOLATE_PROGRAM, args, env);
  die("execve '" ISOLATE_PROGRAM "'");
  return EXIT_INTERNAL;
}
