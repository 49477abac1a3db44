/* exec.c - core.proc's exec tail: proc.exec, its plan, and the fixed sequence. */
/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include "nslua.h"
#include "status.h"

/* ------------------------------------------------------------------ */
/* proc.exec: the command's last steps, one C function                  */
/* ------------------------------------------------------------------ */

#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"
/* the text that goes with a listener to an agent (opts.notify_state), NUL included */
#define NOTIFY_MSG_MAX 32768

typedef struct exec_rlimit {
  int res;
  const char *name;
  struct rlimit rl;
} exec_rlimit;

/* Everything exec needs, read from Lua before the first step.  All memory
** is GC-owned and anchored on the stack of the (never returning) call. */
typedef struct exec_plan {
  const char *file;             /* what execve runs: argv[1] of the caller's list */
  char *const *argv;            /* argv[0] may be opts.argv0 instead */
  char **envp;
  size_t nenv;                  /* entries of envp before its NULL */
  int pwd_slot;                 /* envp index of PWD=<the chosen cwd>, -1: none */
  const char *path;             /* PATH for the search */
  int status_fd;                /* -1: none */
  const int *cgroup_fds;
  size_t ncgroup;
  const int *keep_fds;
  size_t nkeep_fds;
  int *keep;                    /* scratch: status fd + keep_fds + more */
  int *more;                    /* the executor's own fds the command keeps */
  size_t nmore, more_cap;
  int tty, keep_caps, host_caps, userns_fd, no_new_privs, new_session, pdeathsig;
  int has_uid, has_gid, has_groups;
  int umask;                    /* -1: the caller's */
  int persona;                  /* opts.personality: PER_*, -1: unchanged */
  int filtered;                 /* the filters are loaded already (no_new_privs false) */
  uid_t uid;
  gid_t gid;
  const gid_t *groups;
  size_t ngroups;
  const char *const *cwds;      /* tried in order; "/" when none */
  char *const *pwds;            /* "PWD=<cwds[i]>" (set_pwd) */
  size_t ncwd;
  const exec_rlimit *rlimits;
  size_t nrlimits;
  const cap_value_t *caps;
  size_t ncaps;
  int has_sets;                 /* opts.cap_sets: the five sets, each its own */
  const cap_value_t *sets[5];   /* bounding, permitted, effective, inheritable, ambient */
  size_t nsets[5];
  int has_seccomp;
  struct sock_fprog prog;
  struct sock_fprog guard;          /* opts.seccomp_guard: loaded before every other */
  int has_guard;
  const struct sock_fprog *layers;  /* opts.seccomp_layers: a composed profile's */
  size_t nlayers;                   /* other layers, loaded after prog */
  const struct sock_fprog *bpf;  /* opts.seccomp_bpf: loaded after those, in order */
  size_t nbpf;
  int has_notify;               /* opts.seccomp_notify: the handlers' filter, */
  struct sock_fprog notify;     /* loaded last with a listener that goes to */
  int notify_sock;              /* the supervisor over opts.notify_sock */
  int notify_state;             /* opts.notify_state: a pipe holding the text that */
  char *notify_msg;             /* goes with the listener to the agent, NUL-ended, */
  size_t notify_len;            /* read before the filters (non-NULL: notify_sock is */
                                /* an agent's connection) */
  const char *stdio_inside[3];  /* opened by the command itself (NULL: none) */
  int stderr_to_stdout;         /* fd 2 = a dup of fd 1, after the opens */
  int exec_error_stderr;        /* exec_error "stderr": a failed execve says so on fd 2 */
  exec_late *late;              /* NULL: none (see nslua_spawn) */
  int has_landlock;             /* opts.landlock: applied before the filters */
  nslua_landlock landlock;
} exec_plan;

static void copy_word (char *dst, size_t size, const char *src) NSLUA_UNDER_FILTER;
static void copy_word (char *dst, size_t size, const char *src) {
  size_t i;
  for (i = 0; src != NULL && src[i] != '\0' && i + 1 < size; i++)
    dst[i] = src[i];
  dst[i] = '\0';
}

/* The "exec" status record (status.h), then _exit(1).  The failure goes
** to p->late first, without a syscall: the seccomp filter (installed
** before execve) may forbid the write, and then the init reports it. */
void nslua_exec_fail (const exec_plan *p, const char *step, int err, const char *detail) {
  exec_late *late = p->late;
  if (late != NULL) {
    late->err = err;
    copy_word(late->step, sizeof late->step, step);
    copy_word(late->detail, sizeof late->detail, detail);
    late->pending = 1;
  }
  if (p->status_fd >= 0 && nslua_status_exec(p->status_fd, step, err, detail) == 0
      && late != NULL)
    late->pending = 0;
  _exit(1);
}

void nslua_exec_set_late (exec_plan *p, exec_late *late) {
  p->late = late;
}

/* Write all of buf, retrying on EINTR and short writes; 0 or errno. */
static int write_all (int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return errno;
    }
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}

static int cap_kept (const exec_plan *p, cap_value_t v) {
  size_t i;
  for (i = 0; i < p->ncaps; i++)
    if (p->caps[i] == v)
      return 1;
  return 0;
}

/* Is v in the permitted set of c? */
static int cap_permitted (cap_t c, cap_value_t v) {
  cap_flag_value_t f = CAP_CLEAR;
  return cap_get_flag(c, v, CAP_PERMITTED, &f) == 0 && f == CAP_SET;
}

/*
** Leave exactly the kept capabilities in the bounding, permitted, effective,
** inheritable and ambient sets.  After an id switch the kernel has emptied
** the effective set but keepcaps kept the permitted one: raise it again
** first, because PR_CAPBSET_DROP needs CAP_SETPCAP.  Ambient capabilities
** must be in both permitted and inheritable, so they come last.  A kept
** capability we are not permitted (host root without one, as in a
** container) cannot be had: it is left out rather than failing the set.
*/
static int exec_caps (const exec_plan *p, const char **what) {
  cap_value_t v, max = cap_max_bits(), kept[64];
  size_t i, n = 0;
  int err;
  cap_t c;
  *what = "cap_get_proc";
  if ((c = cap_get_proc()) == NULL)
    return errno;
  for (i = 0; i < p->ncaps && n < sizeof kept / sizeof kept[0]; i++)
    if (cap_permitted(c, p->caps[i]))
      kept[n++] = p->caps[i];
  *what = "cap_set_proc";
  if (cap_fill(c, CAP_EFFECTIVE, CAP_PERMITTED) != 0 || cap_set_proc(c) != 0)
    goto fail;
  *what = "cap_drop_bound";
  for (v = 0; v < max; v++)
    if (!cap_kept(p, v) && cap_get_bound(v) == 1 && cap_drop_bound(v) != 0)
      goto fail;
  *what = "cap_set_proc";
  if (cap_clear(c) != 0)
    goto fail;
  if (n > 0
      && (cap_set_flag(c, CAP_PERMITTED, (int)n, kept, CAP_SET) != 0
          || cap_set_flag(c, CAP_EFFECTIVE, (int)n, kept, CAP_SET) != 0
          || cap_set_flag(c, CAP_INHERITABLE, (int)n, kept, CAP_SET) != 0))
    goto fail;
  if (cap_set_proc(c) != 0)
    goto fail;
  *what = "cap_reset_ambient";
  if (cap_reset_ambient() != 0)
    goto fail;
  *what = "cap_set_ambient";
  for (i = 0; i < n; i++)
    if (cap_set_ambient(kept[i], CAP_SET) != 0)
      goto fail;
  cap_free(c);
  return 0;
fail:
  err = errno;
  cap_free(c);
  return err;
}

/* The permitted capabilities made effective (an id switch emptied the
** effective set); 0 or errno with *what set. */
static int raise_effective (const char **what) {
  int err = 0;
  cap_t c;
  *what = "cap_get_proc";
  if ((c = cap_get_proc()) == NULL)
    return errno;
  *what = "cap_set_proc";
  if (cap_fill(c, CAP_EFFECTIVE, CAP_PERMITTED) != 0 || cap_set_proc(c) != 0)
    err = errno;
  cap_free(c);
  return err;
}

static int in_set (const exec_plan *p, int set, cap_value_t v) {
  size_t i;
  for (i = 0; i < p->nsets[set]; i++)
    if (p->sets[set][i] == v)
      return 1;
  return 0;
}

enum { SET_BOUNDING, SET_PERMITTED, SET_EFFECTIVE, SET_INHERITABLE, SET_AMBIENT };

/*
** The set form of caps (OCI's process.capabilities): the bounding set
** keeps only its list; permitted, effective and inheritable become theirs
** (a capability we are not permitted is left out, as in exec_caps); then
** the ambient ones that are both permitted and inheritable are raised
** (the kernel refuses the others; runc skips them, as we do).  An effective capability
** must be permitted (capset's EPERM otherwise).
*/
static int exec_cap_sets (const exec_plan *p, const char **what) {
  static const cap_flag_t flags[] = { CAP_PERMITTED, CAP_PERMITTED, CAP_EFFECTIVE, CAP_INHERITABLE };
  cap_value_t v, max = cap_max_bits();
  int err, set;
  size_t i;
  cap_t c, n = NULL;
  *what = "cap_get_proc";
  if ((c = cap_get_proc()) == NULL)
    return errno;
  *what = "cap_set_proc";
  if (cap_fill(c, CAP_EFFECTIVE, CAP_PERMITTED) != 0 || cap_set_proc(c) != 0)
    goto fail;
  *what = "cap_drop_bound";
  for (v = 0; v < max; v++)
    if (!in_set(p, SET_BOUNDING, v) && cap_get_bound(v) == 1 && cap_drop_bound(v) != 0)
      goto fail;
  *what = "cap_set_proc";
  if ((n = cap_init()) == NULL)
    goto fail;
  for (set = SET_PERMITTED; set <= SET_INHERITABLE; set++)
    for (i = 0; i < p->nsets[set]; i++) {
      v = p->sets[set][i];
      if (cap_permitted(c, v) && cap_set_flag(n, flags[set], 1, &v, CAP_SET) != 0)
        goto fail;
    }
  if (cap_set_proc(n) != 0)
    goto fail;
  *what = "cap_reset_ambient";
  if (cap_reset_ambient() != 0)
    goto fail;
  *what = "cap_set_ambient";
  for (i = 0; i < p->nsets[SET_AMBIENT]; i++) {
    v = p->sets[SET_AMBIENT][i];
    /* the kernel raises only what is permitted and inheritable; runc
    ** skips the others (`runc spec` lists ambient ones it does not
    ** inherit), and so do we */
    if (cap_permitted(c, v) && in_set(p, SET_INHERITABLE, v) && cap_set_ambient(v, CAP_SET) != 0)
      goto fail;
  }
  cap_free(n);
  cap_free(c);
  return 0;
fail:
  err = errno;
  if (n != NULL)
    cap_free(n);
  cap_free(c);
  return err;
}

/*
** execve, searching PATH when argv[0] has no '/': like execvpe, an EACCES
** from one directory is remembered while the search goes on (bash does the
** same), but there is no ENOEXEC fallback to /bin/sh: a file the kernel
** cannot execute is an error, never a shell script.  Returns errno.
*/
static int exec_search (const exec_plan *p) NSLUA_UNDER_FILTER;
static int exec_search (const exec_plan *p) {
  const char *file = p->file, *s, *end;
  size_t flen = strlen(file);
  int eacces = 0;
  char buf[PATH_MAX];
  if (strchr(file, '/') != NULL) {
    execve(file, p->argv, p->envp);
    return errno;
  }
  for (s = p->path;; s = end + 1) {
    size_t dlen;
    end = strchrnul(s, ':');
    dlen = (size_t)(end - s);
    if (dlen + 1 + flen + 1 <= sizeof buf) {
      if (dlen == 0) {  /* an empty entry is the working directory */
        memcpy(buf, file, flen + 1);
      } else {
        memcpy(buf, s, dlen);
        buf[dlen] = '/';
        memcpy(buf + dlen + 1, file, flen + 1);
      }
      execve(buf, p->argv, p->envp);
      switch (errno) {
        case EACCES:
          eacces = 1;
          break;
        case ENOENT: case ENOTDIR: case ESTALE: case ENODEV: case ETIMEDOUT:
        case ENAMETOOLONG: case ELOOP:
          break;
        default:
          return errno;
      }
    }
    if (*end == '\0')
      break;
  }
  return eacces ? EACCES : ENOENT;
}

/* "seccomp_bpf[i]" (1-based) in buf, without stdio: it runs under a filter. */
static const char *bpf_name (char *buf, size_t size, size_t i) NSLUA_UNDER_FILTER;
static const char *bpf_name (char *buf, size_t size, size_t i) {
  static const char prefix[] = "seccomp_bpf[";
  char digits[24];
  size_t n = 0, k = 0;
  i++;
  do {
    digits[n++] = (char)('0' + i % 10);
    i /= 10;
  } while (i > 0 && n < sizeof digits);
  if (sizeof prefix + n + 1 > size)
    return "seccomp_bpf";
  for (; prefix[k] != '\0'; k++)
    buf[k] = prefix[k];
  while (n > 0)
    buf[k++] = digits[--n];
  buf[k++] = ']';
  buf[k] = '\0';
  return buf;
}

/* A fixed errno table for exec_error "stderr": no strerror, no stdio
** under the filter (and in the CLONE_VM child: no locale, no malloc). */
static const struct {
  int err;
  const char *text;
} exec_errtexts[] = {
  {EPERM, "Operation not permitted"}, {ENOENT, "No such file or directory"},
  {EIO, "Input/output error"}, {E2BIG, "Argument list too long"},
  {ENOEXEC, "Exec format error"}, {ENOMEM, "Cannot allocate memory"},
  {EACCES, "Permission denied"}, {EFAULT, "Bad address"},
  {ENOTDIR, "Not a directory"}, {EISDIR, "Is a directory"},
  {EINVAL, "Invalid argument"}, {ENFILE, "Too many open files in system"},
  {EMFILE, "Too many open files"}, {ETXTBSY, "Text file busy"},
  {ENAMETOOLONG, "File name too long"}, {ELOOP, "Too many levels of symbolic links"},
  {ELIBBAD, "Accessing a corrupted shared library"}, {EAGAIN, "Resource temporarily unavailable"},
  {ENOSYS, "Function not implemented"}, {ESTALE, "Stale file handle"},
  {0, NULL}
};

/* Append s to buf[*n] (size bytes, always room for the final "\n"). */
static void err_add (char *buf, size_t size, size_t *n, const char *s) NSLUA_UNDER_FILTER;
static void err_add (char *buf, size_t size, size_t *n, const char *s) {
  for (; *s != '\0' && *n + 1 < size; s++)
    buf[(*n)++] = *s;
}

/* exec_error "stderr": 'execve("NAME"): TEXT\n' in one write to fd 2 (as
** a shell or isolate says it), then _exit(127); no exec record.  NAME is
** argv[0], the program as the caller named it (a front end may run
** "./prog" for "prog", as isolate's execve does). */
static void exec_error_exit (const exec_plan *p, int err) NSLUA_UNDER_FILTER __attribute__((noreturn));
static void exec_error_exit (const exec_plan *p, int err) {
  char buf[PATH_MAX + 96], digits[16];
  size_t i, n = 0, k = 0;
  unsigned int u = err < 0 ? 0u : (unsigned int)err;
  err_add(buf, sizeof buf - 48, &n, "execve(\"");
  err_add(buf, sizeof buf - 48, &n, p->argv[0] != NULL ? p->argv[0] : p->file);
  err_add(buf, sizeof buf, &n, "\"): ");
  for (i = 0; exec_errtexts[i].text != NULL && exec_errtexts[i].err != err; i++)
    ;
  if (exec_errtexts[i].text != NULL) {
    err_add(buf, sizeof buf, &n, exec_errtexts[i].text);
  } else {
    err_add(buf, sizeof buf, &n, "Unknown error ");
    do {
      digits[k++] = (char)('0' + u % 10);
      u /= 10;
    } while (u > 0 && k < sizeof digits);
    while (k > 0 && n + 1 < sizeof buf)
      buf[n++] = digits[--k];
  }
  buf[n++] = '\n';
  while (write(2, buf, n) < 0 && errno == EINTR)
    ;
  _exit(127);
}

/* The seccomp profile, then the caller's raw programs (bwrap's --seccomp,
** --add-seccomp-fd), in order, on top of it: the kernel runs every filter
** and the strictest verdict wins, so none can loosen another. */
static void load_filters (exec_plan *p) NSLUA_UNDER_FILTER;
static void load_filters (exec_plan *p) {
  size_t i;
  char name[48];
  if (p->filtered)
    return;
  p->filtered = 1;
  /* nslua's own set-id guard first: a profile may refuse seccomp(2) itself */
  if (p->has_guard && prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &p->guard, 0, 0) != 0)
    nslua_exec_fail(p, "seccomp", errno, "seccomp_guard");
  if (p->has_seccomp && prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &p->prog, 0, 0) != 0)
    nslua_exec_fail(p, "seccomp", errno, NULL);
  for (i = 0; i < p->nlayers; i++)
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &p->layers[i], 0, 0) != 0)
      nslua_exec_fail(p, "seccomp", errno, "seccomp_layers");
  for (i = 0; i < p->nbpf; i++)
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &p->bpf[i], 0, 0) != 0)
      nslua_exec_fail(p, "seccomp", errno, bpf_name(name, sizeof name, i));
  if (p->has_notify) {
    /* The Lua handlers' filter: its listener goes to nslua with sendmsg,
    ** which that filter always allows (a handler can never be asked about
    ** the call that hands it its listener).  The listener is close-on-exec:
    ** execve drops our copy, and the payload never holds it. */
    int lfd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                           SECCOMP_FILTER_FLAG_NEW_LISTENER, &p->notify);
    int err;
    if (lfd < 0)
      nslua_exec_fail(p, "seccomp", errno, "seccomp_notify");
    if (p->notify_msg != NULL) {
      /* an agent's connection: the message, in one sendmsg, then the
      ** connection and our listener close (close is never routed to the
      ** agent): once the agent drops the listener, a routed syscall fails
      ** with ENOSYS instead of waiting for an answer.  A failed send
      ** closes the listener first: nobody would answer the status write
      ** that follows. */
      err = nslua_sendfd_msg(p->notify_sock, lfd, p->notify_msg, p->notify_len);
      close(lfd);
      if (err != 0)
        nslua_exec_fail(p, "seccomp", err, "seccomp_listener");
      close(p->notify_sock);
    } else if ((err = nslua_sendfd(p->notify_sock, lfd)) != 0)
      nslua_exec_fail(p, "seccomp", err, "notify_sock");
  }
}

/* (7) seccomp last: the filter may forbid what the steps before use;
** (8) execve.  Everything from the filter on is NSLUA_UNDER_FILTER. */
static void exec_filtered (exec_plan *p) NSLUA_UNDER_FILTER __attribute__((noreturn));
static void exec_filtered (exec_plan *p) {
  int err;
  load_filters(p);
  err = exec_search(p);
  if (p->exec_error_stderr)
    exec_error_exit(p, err);
  nslua_exec_fail(p, "execve", err, NULL);
}

/*
** The files of stdio_inside, opened as the command's ids after the switch
** (stdin O_RDONLY; stdout, stderr O_WRONLY|O_CREAT|O_TRUNC 0666, the umask
** applies), each dup2'd onto its fd; then fd 2 = fd 1 for stderr_to_stdout.
** An open that lands on its own fd (0-2 were closed) only loses
** close-on-exec.
*/
static void exec_stdio (const exec_plan *p) {
  int t, fd;
  for (t = 0; t < 3; t++) {
    if (p->stdio_inside[t] == NULL)
      continue;
    fd = open(p->stdio_inside[t], t == 0 ? O_RDONLY | O_CLOEXEC
              : O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0)
      nslua_exec_fail(p, "stdio", errno, p->stdio_inside[t]);
    if (fd == t) {
      if (fcntl(fd, F_SETFD, 0) != 0)
        nslua_exec_fail(p, "stdio", errno, p->stdio_inside[t]);
    } else {
      if (dup2(fd, t) < 0)
        nslua_exec_fail(p, "stdio", errno, p->stdio_inside[t]);
      close(fd);
    }
  }
  if (p->stderr_to_stdout && dup2(1, 2) < 0)
    nslua_exec_fail(p, "stdio", errno, "stderr");
}

/* Join the limit cgroups now ("0": the writer) instead of in the exec
** tail: 0 or an errno.  A parked OCI command (plan.detach) is in its
** groups while it waits for `start`, as runc's is. */
int nslua_exec_join_cgroups (exec_plan *p) {
  size_t i;
  int err;
  for (i = 0; i < p->ncgroup; i++) {
    if ((err = write_all(p->cgroup_fds[i], "0", 1)) != 0)
      return err;
    close(p->cgroup_fds[i]);
  }
  p->ncgroup = 0;
  return 0;
}

/* The Landlock ruleset (opts.landlock), after stdio and the cwd, which
** it may not cover, and before the filters and the capability drop.
** landlock_restrict_self(2) needs no_new_privs or CAP_SYS_ADMIN in our
** user namespace: no_new_privs is set now when the plan sets it anyway;
** without it the permitted set is made effective, as for the filters.
** Skipped rules (a path missing inside) go to the status fd as records. */
static void exec_landlock (exec_plan *p) {
  const char *what = NULL;
  int err;
  if (p->no_new_privs) {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1UL, 0, 0, 0) != 0)
      nslua_exec_fail(p, "no_new_privs", errno, NULL);
  } else if ((err = raise_effective(&what)) != 0) {
    nslua_exec_fail(p, "caps", err, what);
  }
  if ((err = nslua_landlock_apply(&p->landlock, p->status_fd, &what)) != 0)
    nslua_exec_fail(p, "landlock", err, what);
}

/* The text that goes with the listener (opts.notify_state): all of it is
** in the pipe before our release, NUL-ended; read before any filter. */
static void read_notify_state (exec_plan *p) {
  size_t n = 0;
  for (;;) {
    ssize_t r = read(p->notify_state, p->notify_msg + n, NOTIFY_MSG_MAX - n);
    char *end;
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      nslua_exec_fail(p, "seccomp", errno, "notify_state");
    if (r == 0)
      nslua_exec_fail(p, "seccomp", EPROTO, "notify_state");
    end = memchr(p->notify_msg + n, '\0', (size_t)r);
    n += (size_t)r;
    if (end != NULL) {
      p->notify_len = (size_t)(end - p->notify_msg);
      break;
    }
    if (n == NOTIFY_MSG_MAX)
      nslua_exec_fail(p, "seccomp", EMSGSIZE, "notify_state");
  }
  close(p->notify_state);
  p->notify_state = -1;
}

/* The fixed sequence.  No Lua API call from here on. */
void nslua_exec_run (exec_plan *p) {
  const char *what = NULL;
  sigset_t none;
  size_t i, nkeep = 0;
  pid_t ppid = getppid();
  int err;

  /* (1) join the limit cgroups: "0" means the writer */
  if ((err = nslua_exec_join_cgroups(p)) != 0)
    nslua_exec_fail(p, "cgroup", err, NULL);

  /* (2) a clean signal state: the mask and SIG_IGN survive execve.  The
  ** dispositions first: a spawn child shares the caller's memory and comes
  ** with every signal blocked, so no handler of the caller's may run in it. */
  nslua_reset_dispositions();
  sigemptyset(&none);
  if (sigprocmask(SIG_SETMASK, &none, NULL) != 0)
    nslua_exec_fail(p, "signals", errno, NULL);

  /* The supplementary groups, then the nested user namespace of kept
  ** capabilities (the executor made it, with the payload's ids mapped to
  ** themselves and setgroups denied): they then belong to a namespace that
  ** owns no mount namespace, so masks and read-only mounts stay.  Joined
  ** while we still hold every capability and its fd. */
  if (p->has_groups && setgroups(p->ngroups, p->ngroups ? p->groups : NULL) != 0)
    nslua_exec_fail(p, "ids", errno, "setgroups");
  if (p->userns_fd >= 0 && setns(p->userns_fd, CLONE_NEWUSER) != 0)
    nslua_exec_fail(p, "userns", errno, "setns");

  /* (3) fds: 0-2, the kept ones (made inheritable), and the status fd,
  ** which execve closes, so its end of file tells the parent exec worked */
  if (p->status_fd >= 0) {
    if (fcntl(p->status_fd, F_SETFD, FD_CLOEXEC) != 0)
      nslua_exec_fail(p, "fds", errno, NULL);
    p->keep[nkeep++] = p->status_fd;
  }
  if (p->notify_sock >= 0) {
    if (fcntl(p->notify_sock, F_SETFD, FD_CLOEXEC) != 0)
      nslua_exec_fail(p, "fds", errno, NULL);
    p->keep[nkeep++] = p->notify_sock;
  }
  if (p->notify_state >= 0) {
    if (fcntl(p->notify_state, F_SETFD, FD_CLOEXEC) != 0)
      nslua_exec_fail(p, "fds", errno, NULL);
    p->keep[nkeep++] = p->notify_state;
  }
  for (i = 0; i < p->nkeep_fds; i++) {
    int fl = fcntl(p->keep_fds[i], F_GETFD);
    if (fl < 0 || fcntl(p->keep_fds[i], F_SETFD, fl & ~FD_CLOEXEC) != 0)
      nslua_exec_fail(p, "fds", errno, NULL);
    p->keep[nkeep++] = p->keep_fds[i];
  }
  for (i = 0; i < p->nmore; i++) {
    int fl = fcntl(p->more[i], F_GETFD);
    if (fl < 0 || fcntl(p->more[i], F_SETFD, fl & ~FD_CLOEXEC) != 0)
      nslua_exec_fail(p, "fds", errno, NULL);
    p->keep[nkeep++] = p->more[i];
  }
  if (nslua_close_fds_except(p->keep, (int)nkeep) != 0)
    nslua_exec_fail(p, "fds", errno, NULL);
  if (p->notify_state >= 0)
    read_notify_state(p);

  /* (4) a new session: no controlling terminal unless the pty on fd 0
  ** (session "keep": the caller's session and process group, as bwrap
  ** without --new-session); the executor's child without an init leads
  ** its session already */
  if (p->new_session && getsid(0) != getpid() && setsid() < 0)
    nslua_exec_fail(p, "setsid", errno, NULL);
  if (p->tty && ioctl(0, TIOCSCTTY, 0) != 0)
    nslua_exec_fail(p, "tty", errno, NULL);

  /* (5) ids.  keepcaps across setresuid: without it a switch away from uid 0
  ** empties the permitted set and step 6 could no longer shrink the bounding
  ** set.  execve clears keepcaps again. */
  if ((p->keep_caps || p->has_uid) && prctl(PR_SET_KEEPCAPS, 1UL, 0, 0, 0) != 0)
    nslua_exec_fail(p, "ids", errno, "keepcaps");
  if (p->has_gid && setresgid(p->gid, p->gid, p->gid) != 0)
    nslua_exec_fail(p, "ids", errno, "setresgid");
  if (p->has_uid && setresuid(p->uid, p->uid, p->uid) != 0)
    nslua_exec_fail(p, "ids", errno, "setresuid");

  /* The parent-death signal after the last credential change, which
  ** clears it; a parent that died before it was set is seen as a new
  ** parent (not from inside a pid namespace whose parent is outside). */
  if (p->pdeathsig) {
    if (prctl(PR_SET_PDEATHSIG, (unsigned long)SIGKILL, 0, 0, 0) != 0)
      nslua_exec_fail(p, "pdeathsig", errno, NULL);
    if (getppid() != ppid)
      nslua_exec_fail(p, "pdeathsig", ESRCH, NULL);
  }

  /* the command's umask (opts.umask) before anything it creates */
  if (p->umask >= 0)
    umask((mode_t)p->umask);

  /* stdio opened inside (the payload's ids and permissions), then
  ** stderr = stdout */
  exec_stdio(p);

  /* (6) cwd: the first directory of the list we can enter; rlimits,
  ** capabilities (host_caps: the caller's sets as they are), no_new_privs */
  err = ENOENT;
  for (i = 0; i < p->ncwd; i++) {
    if (chdir(p->cwds[i]) == 0)
      break;
    err = errno;
  }
  if (i == p->ncwd)
    nslua_exec_fail(p, "cwd", err, NULL);
  if (p->pwd_slot >= 0)
    p->envp[p->pwd_slot] = p->pwds[i];
  for (i = 0; i < p->nrlimits; i++)
    if (setrlimit(p->rlimits[i].res, &p->rlimits[i].rl) != 0)
      nslua_exec_fail(p, "rlimit", errno, p->rlimits[i].name);
  /* the execution domain (OCI's linux.personality), before any filter:
  ** execve keeps it */
  if (p->persona >= 0 && personality((unsigned long)p->persona) < 0)
    nslua_exec_fail(p, "personality", errno, NULL);
  if (p->has_landlock)
    exec_landlock(p);
  /* Without no_new_privs, loading a filter needs CAP_SYS_ADMIN in our
  ** user namespace (seccomp(2)), which the capability drop takes away:
  ** the filters go first, with the permitted set made effective, as runc
  ** does; they must then allow capget, capset, prctl and execve (Docker's
  ** profile and nslua's default do). */
  /* The command's clock starts here (the init's "pid" record): after the
  ** set-up and the cgroup join, before the filters, which could forbid
  ** clock_gettime's syscall where the vDSO has no fast path. */
  if (p->late != NULL)
    p->late->start_ns = nslua_now_ns();
  if (!p->no_new_privs && (p->has_guard || p->has_seccomp || p->nbpf > 0 || p->nlayers > 0 ||
                           p->has_notify)) {
    if ((err = raise_effective(&what)) != 0)
      nslua_exec_fail(p, "caps", err, what);
    load_filters(p);
  }
  if (!p->host_caps && (err = p->has_sets ? exec_cap_sets(p, &what) : exec_caps(p, &what)) != 0)
    nslua_exec_fail(p, "caps", err, what);
  if (p->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1UL, 0, 0, 0) != 0)
    nslua_exec_fail(p, "no_new_privs", errno, NULL);

  exec_filtered(p);
}

/* opts[name] with no metamethods: the value stays anchored in opts. */
static int rawfield (lua_State *L, int idx, const char *name) {
  lua_pushstring(L, name);
  return lua_rawget(L, idx);
}

/* A string with no NUL byte at the top; raises with 'what' otherwise. */
static const char *top_cstring (lua_State *L, int arg, const char *what) {
  size_t len;
  const char *s;
  if (lua_type(L, -1) != LUA_TSTRING)
    luaL_argerror(L, arg, lua_pushfstring(L, "%s must be a string", what));
  s = lua_tolstring(L, -1, &len);
  if (strlen(s) != len)
    luaL_argerror(L, arg, lua_pushfstring(L, "%s contains a NUL byte", what));
  return s;
}

static int opt_bool (lua_State *L, const char *name, int def) {
  int t = rawfield(L, 3, name), v = def;
  if (t == LUA_TBOOLEAN)
    v = lua_toboolean(L, -1);
  else if (t != LUA_TNIL)
    luaL_argerror(L, 3, lua_pushfstring(L, "field '%s' must be a boolean", name));
  lua_pop(L, 1);
  return v;
}

static int opt_id (lua_State *L, const char *name, unsigned int *id) {
  int t = rawfield(L, 3, name);
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return 0;
  }
  if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 0
      || lua_tointeger(L, -1) >= 0xffffffffLL)
    luaL_argerror(L, 3, lua_pushfstring(L, "field '%s' must be an id (0..2^32-2)", name));
  *id = (unsigned int)lua_tointeger(L, -1);
  lua_pop(L, 1);
  return 1;
}

/* A list of fds in the table at 'arg', field 'name', into GC-owned memory
** left on the stack; NULL (nothing pushed) when the field is nil. */
const int *nslua_opt_fds (lua_State *L, int arg, const char *name, size_t *n) {
  size_t i;
  int *fds;
  char what[48];
  int t = rawfield(L, arg, name);
  *n = 0;
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return NULL;
  }
  if (t != LUA_TTABLE)
    luaL_argerror(L, arg, lua_pushfstring(L, "field '%s' must be a list of fds", name));
  *n = (size_t)lua_rawlen(L, -1);
  fds = (int *)lua_newuserdatauv(L, (*n ? *n : 1) * sizeof *fds, 0);
  lua_insert(L, -2);
  for (i = 0; i < *n; i++) {
    snprintf(what, sizeof what, "%s[%d]", name, (int)i + 1);
    lua_rawgeti(L, -1, (lua_Integer)i + 1);
    fds[i] = nslua_field_fd(L, arg, what);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);  /* the list; the userdata stays */
  return fds;
}

static void exec_read_argv (lua_State *L, exec_plan *p) {
  size_t i, n = (size_t)lua_rawlen(L, 1);
  char **argv;
  luaL_argcheck(L, n >= 1, 1, "argv must not be empty");
  argv = (char **)lua_newuserdatauv(L, (n + 1) * sizeof *argv, 0);
  for (i = 0; i < n; i++) {
    char what[32];
    snprintf(what, sizeof what, "argv[%d]", (int)i + 1);
    lua_rawgeti(L, 1, (lua_Integer)i + 1);
    argv[i] = (char *)top_cstring(L, 1, what);
    lua_pop(L, 1);  /* argv (argument 1) keeps it alive */
  }
  argv[n] = NULL;
  luaL_argcheck(L, argv[0][0] != '\0', 1, "argv[1] must not be empty");
  p->argv = argv;
  p->file = argv[0];
}

/* env: a list {"K=V", ...}, a map {K = "V"}, or both.  The "K=V" strings
** are anchored in a new table left on the stack. */
static void exec_read_env (lua_State *L, exec_plan *p) {
  size_t i, n = (size_t)lua_rawlen(L, 2), count = 0;
  int anchor;
  char **envp;
  lua_newtable(L);
  anchor = lua_gettop(L);
  for (i = 1; i <= n; i++) {
    const char *s;
    char what[32];
    snprintf(what, sizeof what, "env[%d]", (int)i);
    lua_rawgeti(L, 2, (lua_Integer)i);
    s = top_cstring(L, 2, what);
    if (s[0] == '=' || strchr(s, '=') == NULL)
      luaL_argerror(L, 2, lua_pushfstring(L, "%s must look like 'NAME=value'", what));
    lua_rawseti(L, anchor, (lua_Integer)++count);
  }
  lua_pushnil(L);
  while (lua_next(L, 2) != 0) {
    const char *k, *v;
    if (lua_type(L, -2) == LUA_TNUMBER && lua_isinteger(L, -2)
        && lua_tointeger(L, -2) >= 1 && (size_t)lua_tointeger(L, -2) <= n) {
      lua_pop(L, 1);
      continue;
    }
    if (lua_type(L, -2) != LUA_TSTRING)
      luaL_argerror(L, 2, "env keys must be names or list indices");
    k = lua_tostring(L, -2);
    if (k[0] == '\0' || strchr(k, '=') != NULL || strlen(k) != lua_rawlen(L, -2))
      luaL_argerror(L, 2, lua_pushfstring(L, "invalid variable name '%s'", k));
    if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)
      luaL_argerror(L, 2, lua_pushfstring(L, "env value of '%s' must be a string", k));
    v = lua_tostring(L, -1);
    if (strlen(v) != lua_rawlen(L, -1))
      luaL_argerror(L, 2, lua_pushfstring(L, "env value of '%s' contains a NUL byte", k));
    lua_pushfstring(L, "%s=%s", k, v);
    lua_rawseti(L, anchor, (lua_Integer)++count);
    lua_pop(L, 1);
  }
  envp = (char **)lua_newuserdatauv(L, (count + 1) * sizeof *envp, 0);
  p->path = DEFAULT_PATH;
  for (i = 0; i < count; i++) {
    lua_rawgeti(L, anchor, (lua_Integer)i + 1);
    envp[i] = (char *)lua_tostring(L, -1);
    lua_pop(L, 1);
    if (strncmp(envp[i], "PATH=", 5) == 0)
      p->path = envp[i] + 5;
  }
  envp[count] = NULL;
  p->envp = envp;
  p->nenv = count;
}

static const char *const exec_opt_names[] = {
  "argv0", "cap_sets", "caps", "cgroup_procs", "cwd", "die_with_parent", "exec_error", "gid", "groups",
  "host_caps", "keep_caps", "keep_fds", "landlock", "no_new_privs", "notify_sock", "notify_state",
  "personality",
  "rlimits", "seccomp", "seccomp_bpf", "seccomp_guard", "seccomp_layers", "seccomp_notify",
  "session", "set_pwd", "status_fd", "stderr_to_stdout", "stdio_inside", "tty", "uid",
  "umask", "userns", NULL
};

/* The table at 'arg' may hold only the option names in 'names' (NULL-ended). */
void nslua_check_opt_names (lua_State *L, int arg, const char *const *names) {
  lua_pushnil(L);
  while (lua_next(L, arg) != 0) {
    const char *const *n = names;
    if (lua_type(L, -2) != LUA_TSTRING)
      luaL_argerror(L, arg, "option names must be strings");
    while (*n != NULL && strcmp(*n, lua_tostring(L, -2)) != 0)
      n++;
    if (*n == NULL)
      luaL_argerror(L, arg, lua_pushfstring(L, "unknown option '%s'", lua_tostring(L, -2)));
    lua_pop(L, 1);
  }
}

static void exec_read_rlimits (lua_State *L, exec_plan *p) {
  size_t n = 0;
  exec_rlimit *rl;
  int t = rawfield(L, 3, "rlimits");
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  if (t != LUA_TTABLE)
    luaL_argerror(L, 3, "field 'rlimits' must be a table");
  lua_pushnil(L);
  while (lua_next(L, -2) != 0) {
    n++;
    lua_pop(L, 1);
  }
  rl = (exec_rlimit *)lua_newuserdatauv(L, (n ? n : 1) * sizeof *rl, 0);
  lua_insert(L, -2);
  n = 0;
  lua_pushnil(L);
  while (lua_next(L, -2) != 0) {
    const char *name;
    size_t k;
    if (lua_type(L, -2) != LUA_TSTRING)
      luaL_argerror(L, 3, "rlimit names must be strings");
    name = lua_tostring(L, -2);
    for (k = 0; nslua_rlimit_names[k] != NULL; k++)
      if (strcmp(nslua_rlimit_names[k], name) == 0)
        break;
    if (nslua_rlimit_names[k] == NULL)
      luaL_argerror(L, 3, lua_pushfstring(L, "unknown rlimit '%s'", name));
    rl[n].res = nslua_rlimit_res[k];
    rl[n].name = nslua_rlimit_names[k];
    if (lua_type(L, -1) == LUA_TTABLE) {
      int ok;
      lua_rawgeti(L, -1, 1);
      lua_rawgeti(L, -2, 2);
      ok = nslua_to_rlim(L, -2, &rl[n].rl.rlim_cur)
           && nslua_to_rlim(L, -1, &rl[n].rl.rlim_max);
      lua_pop(L, 2);
      if (!ok)
        luaL_argerror(L, 3, lua_pushfstring(L, "rlimit '%s' must be {soft, hard}", name));
    } else if (nslua_to_rlim(L, -1, &rl[n].rl.rlim_cur)) {
      rl[n].rl.rlim_max = rl[n].rl.rlim_cur;
    } else
      luaL_argerror(L, 3, lua_pushfstring(L, "rlimit '%s' must be a non-negative "
                                          "integer, math.huge or {soft, hard}", name));
    n++;
    lua_pop(L, 1);
  }
  lua_pop(L, 1);  /* the rlimits table; the userdata stays */
  p->rlimits = rl;
  p->nrlimits = n;
}

/* A list of capability names at the top into GC-owned memory left on the
** stack (below the list, which is popped); *n entries. */
static cap_value_t *read_cap_list (lua_State *L, size_t *count) {
  size_t i, n;
  cap_value_t *caps, max = cap_max_bits();
  n = (size_t)lua_rawlen(L, -1);
  caps = (cap_value_t *)lua_newuserdatauv(L, (n ? n : 1) * sizeof *caps, 0);
  lua_insert(L, -2);
  for (i = 0; i < n; i++) {
    const char *name, *full;
    lua_rawgeti(L, -1, (lua_Integer)i + 1);
    name = top_cstring(L, 3, "a capability name");
    full = strncasecmp(name, "cap_", 4) == 0 ? name : lua_pushfstring(L, "cap_%s", name);
    if (cap_from_name(full, &caps[i]) != 0)
      luaL_argerror(L, 3, lua_pushfstring(L, "unknown capability '%s'", name));
    if (caps[i] >= max)
      luaL_argerror(L, 3, lua_pushfstring(L, "capability '%s' is not supported by "
                                          "this kernel", name));
    lua_settop(L, -2 - (full != name));
  }
  lua_pop(L, 1);
  *count = n;
  return caps;
}

static void exec_read_caps (lua_State *L, exec_plan *p) {
  static const char *const set_names[] = { "bounding", "permitted", "effective", "inheritable",
                                           "ambient" };
  int s, t = rawfield(L, 3, "caps");
  if (t != LUA_TNIL) {
    if (t != LUA_TTABLE)
      luaL_argerror(L, 3, "field 'caps' must be a list of capability names");
    p->caps = read_cap_list(L, &p->ncaps);
  } else
    lua_pop(L, 1);
  t = rawfield(L, 3, "cap_sets");
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  if (t != LUA_TTABLE)
    luaL_argerror(L, 3, "field 'cap_sets' must be a table of capability lists");
  p->has_sets = 1;
  for (s = 0; s < 5; s++) {
    int ty = lua_getfield(L, -1, set_names[s]);
    if (ty == LUA_TNIL) {
      lua_pop(L, 1);
      continue;
    }
    if (ty != LUA_TTABLE)
      luaL_argerror(L, 3, lua_pushfstring(L, "field 'cap_sets.%s' must be a list", set_names[s]));
    p->sets[s] = read_cap_list(L, &p->nsets[s]);
    lua_insert(L, -2);          /* the array stays below the cap_sets table */
  }
  lua_pop(L, 1);
}

/* cwd: a directory, or a list of them (the first one chdir enters); with
** set_pwd, envp gets a slot for PWD=<that one> (an env PWD is dropped). */
static void exec_read_cwd (lua_State *L, exec_plan *p) {
  const char **cwds;
  char **pwds, **envp;
  size_t i, j, n = 1;
  int t = rawfield(L, 3, "cwd"), set_pwd = opt_bool(L, "set_pwd", 0);
  if (t == LUA_TTABLE) {
    n = (size_t)lua_rawlen(L, -1);
    luaL_argcheck(L, n >= 1 && n <= 64, 3, "field 'cwd' must list 1..64 directories");
  } else if (t != LUA_TNIL && t != LUA_TSTRING)
    luaL_argerror(L, 3, "field 'cwd' must be a string or a list of strings");
  cwds = (const char **)lua_newuserdatauv(L, n * sizeof *cwds, 0);
  pwds = (char **)lua_newuserdatauv(L, n * sizeof *pwds, 0);
  lua_newtable(L);              /* the PWD strings */
  for (i = 0; i < n; i++) {
    if (t == LUA_TTABLE)
      lua_rawgeti(L, -4, (lua_Integer)i + 1);
    else
      lua_pushvalue(L, -4);
    if (t == LUA_TNIL)
      cwds[i] = "/";
    else
      cwds[i] = top_cstring(L, 3, "field 'cwd'");
    lua_rawseti(L, -2, (lua_Integer)(2 * i + 1));     /* keeps cwds[i] alive */
    pwds[i] = (char *)lua_pushfstring(L, "PWD=%s", cwds[i]);
    lua_rawseti(L, -2, (lua_Integer)(2 * i + 2));
  }
  lua_rotate(L, -4, -1);        /* the cwd field on top */
  lua_pop(L, 1);                /* cwds, pwds and the strings stay */
  p->cwds = cwds;
  p->pwds = pwds;
  p->ncwd = n;
  p->pwd_slot = -1;
  if (!set_pwd)
    return;
  envp = (char **)lua_newuserdatauv(L, (p->nenv + 2) * sizeof *envp, 0);
  for (i = j = 0; i < p->nenv; i++)
    if (strncmp(p->envp[i], "PWD=", 4) != 0)
      envp[j++] = p->envp[i];
  p->pwd_slot = (int)j;
  envp[j++] = pwds[0];
  envp[j] = NULL;
  p->envp = envp;
  p->nenv = j;
}

/* argv0: what the command sees as argv[0]; argv[1] of the list stays the file run */
static void exec_read_argv0 (lua_State *L, exec_plan *p) {
  char **argv;
  size_t i, n = 0;
  if (rawfield(L, 3, "argv0") == LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  (void)top_cstring(L, 3, "field 'argv0'");
  while (p->argv[n] != NULL)
    n++;
  argv = (char **)lua_newuserdatauv(L, (n + 1) * sizeof *argv, 0);
  for (i = 0; i <= n; i++)
    argv[i] = p->argv[i];
  argv[0] = (char *)lua_tostring(L, -2);
  lua_remove(L, -2);            /* the copy stays; opts keeps the string */
  p->argv = argv;
}

/* A raw BPF program at the top (a struct sock_filter array); raises
** with 'what' when its length is not 1..BPF_MAXINSNS instructions. */
static void exec_read_prog (lua_State *L, const char *what, struct sock_fprog *prog) {
  size_t len;
  const char *s;
  if (lua_type(L, -1) != LUA_TSTRING)
    luaL_argerror(L, 3, lua_pushfstring(L, "%s must be a string (a BPF program)", what));
  s = lua_tolstring(L, -1, &len);
  if (len == 0 || len % sizeof(struct sock_filter) != 0)
    luaL_argerror(L, 3, lua_pushfstring(L, "%s length must be a positive multiple of 8", what));
  if (len / sizeof(struct sock_filter) > BPF_MAXINSNS)
    luaL_argerror(L, 3, lua_pushfstring(L, "%s is longer than 4096 instructions", what));
  prog->len = (unsigned short)(len / sizeof(struct sock_filter));
  prog->filter = (struct sock_filter *)(void *)s;   /* the kernel copies it */
}

/* opts[name], a BPF program string (anchored in opts), into *prog; 0 when absent. */
static int exec_opt_prog (lua_State *L, const char *name, struct sock_fprog *prog) {
  const char *what = lua_pushfstring(L, "field '%s'", name);
  int has = rawfield(L, 3, name) != LUA_TNIL;
  if (has)
    exec_read_prog(L, what, prog);
  lua_pop(L, 2);
  return has;
}

/* opts.seccomp_bpf {prog, ...}: GC-owned fprogs left on the stack (the
** strings stay anchored in opts). */
static void exec_read_bpf (lua_State *L, const char *field, const struct sock_fprog **out,
                           size_t *nout) {
  struct sock_fprog *progs;
  size_t i, n;
  int t = rawfield(L, 3, field);
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  if (t != LUA_TTABLE)
    luaL_argerror(L, 3, lua_pushfstring(L, "field '%s' must be a list of BPF programs", field));
  n = (size_t)lua_rawlen(L, -1);
  progs = (struct sock_fprog *)lua_newuserdatauv(L, (n ? n : 1) * sizeof *progs, 0);
  lua_insert(L, -2);
  for (i = 0; i < n; i++) {
    char what[40];
    snprintf(what, sizeof what, "%s[%d]", field, (int)i + 1);
    lua_rawgeti(L, -1, (lua_Integer)i + 1);
    exec_read_prog(L, what, &progs[i]);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);  /* the list; the userdata stays */
  *out = progs;
  *nout = n;
}

/* stdio_inside {stdin = PATH, stdout = PATH, stderr = PATH} (absolute
** paths; the strings stay anchored in opts), stderr_to_stdout, exec_error. */
static void exec_read_stdio (lua_State *L, exec_plan *p) {
  static const char *const names[] = { "stdin", "stdout", "stderr" };
  int t, ty = rawfield(L, 3, "stdio_inside");
  if (ty == LUA_TTABLE) {
    lua_pushnil(L);
    while (lua_next(L, -2) != 0) {
      if (lua_type(L, -2) != LUA_TSTRING
          || (strcmp(lua_tostring(L, -2), "stdin") != 0 && strcmp(lua_tostring(L, -2), "stdout") != 0
              && strcmp(lua_tostring(L, -2), "stderr") != 0))
        luaL_argerror(L, 3, "field 'stdio_inside' may hold only stdin, stdout, stderr");
      lua_pop(L, 1);
    }
    for (t = 0; t < 3; t++) {
      char what[40];
      if (lua_getfield(L, -1, names[t]) != LUA_TNIL) {
        snprintf(what, sizeof what, "field 'stdio_inside.%s'", names[t]);
        p->stdio_inside[t] = top_cstring(L, 3, what);
        if (p->stdio_inside[t][0] != '/')
          luaL_argerror(L, 3, lua_pushfstring(L, "%s must be an absolute path", what));
      }
      lua_pop(L, 1);              /* the table keeps it */
    }
  } else if (ty != LUA_TNIL)
    luaL_argerror(L, 3, "field 'stdio_inside' must be a table");
  lua_pop(L, 1);
  p->stderr_to_stdout = opt_bool(L, "stderr_to_stdout", 0);
  if (p->stderr_to_stdout && p->stdio_inside[2] != NULL)
    luaL_argerror(L, 3, "field 'stderr_to_stdout' and 'stdio_inside.stderr' exclude each other");
  if ((ty = rawfield(L, 3, "exec_error")) != LUA_TNIL) {
    if (ty != LUA_TSTRING || strcmp(lua_tostring(L, -1), "stderr") != 0)
      luaL_argerror(L, 3, "field 'exec_error' must be 'stderr'");
    p->exec_error_stderr = 1;
  }
  lua_pop(L, 1);
}

/* opts.landlock: a ruleset (core.landlock's form); its rules userdata
** stays on the stack, anchored like the rest of the plan. */
static void exec_read_landlock (lua_State *L, exec_plan *p) {
  if (rawfield(L, 3, "landlock") == LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  if (!lua_istable(L, -1))
    luaL_argerror(L, 3, "field 'landlock' must be a table");
  nslua_landlock_read(L, -1, &p->landlock);
  lua_remove(L, -2);            /* the landlock table (opts keeps it) */
  /* nothing handled (every right beyond the kernel's ABI): nothing to do */
  p->has_landlock = p->landlock.fs != 0 || p->landlock.net != 0;
}

static void exec_read_opts (lua_State *L, exec_plan *p) {
  unsigned int id;
  int t;
  nslua_check_opt_names(L, 3, exec_opt_names);
  p->status_fd = -1;
  if (rawfield(L, 3, "status_fd") != LUA_TNIL) {
    p->status_fd = nslua_field_fd(L, 3, "field 'status_fd'");
    if (p->status_fd < 3)
      luaL_argerror(L, 3, "field 'status_fd' must be >= 3");
  }
  lua_pop(L, 1);
  p->cgroup_fds = nslua_opt_fds(L, 3, "cgroup_procs", &p->ncgroup);
  p->keep_fds = nslua_opt_fds(L, 3, "keep_fds", &p->nkeep_fds);
  nslua_exec_reserve(L, p, 0);
  p->tty = opt_bool(L, "tty", 0);
  p->keep_caps = opt_bool(L, "keep_caps", 0);
  p->userns_fd = -1;
  if (rawfield(L, 3, "userns") != LUA_TNIL)
    p->userns_fd = nslua_field_fd(L, 3, "field 'userns'");
  lua_pop(L, 1);
  p->no_new_privs = opt_bool(L, "no_new_privs", 1);
  p->umask = -1;
  p->persona = -1;
  if ((t = rawfield(L, 3, "personality")) != LUA_TNIL) {
    const char *s = t == LUA_TSTRING ? lua_tostring(L, -1) : "";
    if (strcmp(s, "linux") == 0)
      p->persona = PER_LINUX;
    else if (strcmp(s, "linux32") == 0)
      p->persona = PER_LINUX32;
    else
      luaL_argerror(L, 3, "field 'personality' must be 'linux' or 'linux32'");
  }
  lua_pop(L, 1);
  if ((t = rawfield(L, 3, "umask")) != LUA_TNIL) {
    if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 0 || lua_tointeger(L, -1) > 0777)
      luaL_argerror(L, 3, "field 'umask' must be an integer 0..0777");
    p->umask = (int)lua_tointeger(L, -1);
  }
  lua_pop(L, 1);
  if ((p->has_uid = opt_id(L, "uid", &id)))
    p->uid = id;
  if ((p->has_gid = opt_id(L, "gid", &id)))
    p->gid = id;
  t = rawfield(L, 3, "groups");
  if (t == LUA_TTABLE) {
    p->has_groups = 1;
    p->groups = nslua_check_gids(L, -1, 3, &p->ngroups, "field 'groups'");
    lua_insert(L, -2);
  } else if (t != LUA_TNIL)
    luaL_argerror(L, 3, "field 'groups' must be a list of gids");
  lua_pop(L, 1);
  exec_read_cwd(L, p);
  exec_read_argv0(L, p);
  exec_read_stdio(L, p);
  p->new_session = 1;
  if ((t = rawfield(L, 3, "session")) != LUA_TNIL) {
    const char *s = t == LUA_TSTRING ? lua_tostring(L, -1) : "";
    if (strcmp(s, "keep") != 0 && strcmp(s, "new") != 0)
      luaL_argerror(L, 3, "field 'session' must be 'new' or 'keep'");
    p->new_session = strcmp(s, "new") == 0;
  }
  lua_pop(L, 1);
  if (p->tty && !p->new_session)
    luaL_argerror(L, 3, "field 'tty' needs session 'new'");
  p->pdeathsig = opt_bool(L, "die_with_parent", 0);
  p->host_caps = opt_bool(L, "host_caps", 0);
  exec_read_rlimits(L, p);
  exec_read_caps(L, p);
  p->has_seccomp = exec_opt_prog(L, "seccomp", &p->prog);
  p->has_guard = exec_opt_prog(L, "seccomp_guard", &p->guard);
  p->has_notify = exec_opt_prog(L, "seccomp_notify", &p->notify);
  p->notify_sock = -1;
  if (rawfield(L, 3, "notify_sock") != LUA_TNIL)
    p->notify_sock = nslua_field_fd(L, 3, "field 'notify_sock'");
  lua_pop(L, 1);
  if (p->has_notify != (p->notify_sock >= 0))
    luaL_argerror(L, 3, "fields 'seccomp_notify' and 'notify_sock' go together");
  p->notify_state = -1;
  if (rawfield(L, 3, "notify_state") != LUA_TNIL) {
    p->notify_state = nslua_field_fd(L, 3, "field 'notify_state'");
    if (!p->has_notify)
      luaL_argerror(L, 3, "field 'notify_state' needs 'seccomp_notify'");
    p->notify_msg = (char *)lua_newuserdatauv(L, NOTIFY_MSG_MAX, 0);
    lua_insert(L, -2);  /* the buffer stays on the stack */
  }
  lua_pop(L, 1);
  exec_read_bpf(L, "seccomp_layers", &p->layers, &p->nlayers);
  exec_read_bpf(L, "seccomp_bpf", &p->bpf, &p->nbpf);
  exec_read_landlock(L, p);
}

/* argv, env [, opts] at 1..3 (opts defaults to {}), read into a plan. */
exec_plan *nslua_exec_args (lua_State *L, const char *what) {
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checktype(L, 2, LUA_TTABLE);
  if (lua_isnoneornil(L, 3)) {
    if (lua_gettop(L) < 3)
      lua_settop(L, 3);
    lua_newtable(L);
    lua_replace(L, 3);
  } else
    luaL_checktype(L, 3, LUA_TTABLE);
  /* arguments above 3 stay on the stack: what they hold stays alive */
  luaL_checkstack(L, 32, what);
  return nslua_exec_plan(L);
}

/* Room for n fds of the executor's own that the command keeps (lock
** files, a sync fd: nslua_exec_keep in the child); the scratch arrays are
** left on the stack. */
void nslua_exec_reserve (lua_State *L, exec_plan *p, size_t n) {
  p->keep = (int *)lua_newuserdatauv(L, (p->nkeep_fds + 3 + n) * sizeof *p->keep, 0);
  p->more = (int *)lua_newuserdatauv(L, (n ? n : 1) * sizeof *p->more, 0);
  p->nmore = 0;
  p->more_cap = n;
}

/* One of them (no room left: ignored; the reservation counted them all). */
void nslua_exec_keep (exec_plan *p, int fd) {
  if (p->nmore < p->more_cap)
    p->more[p->nmore++] = fd;
}

/* The executor's nested user namespace, made in the child after the plan was read. */
void nslua_exec_set_userns (exec_plan *p, int fd) {
  p->userns_fd = fd;
}

exec_plan *nslua_exec_plan (lua_State *L) {
  exec_plan *p = (exec_plan *)lua_newuserdatauv(L, sizeof *p, 0);
  memset(p, 0, sizeof *p);
  exec_read_argv(L, p);
  exec_read_env(L, p);
  exec_read_opts(L, p);
  return p;
}

/*
** proc.exec(argv, env, opts) -> never returns
** The command's last steps, in order; a failure writes
** "exec <step> <errno>[ <detail>]\n" to opts.status_fd in one write(2) and
** _exit(1)s (without a status_fd it only _exit(1)s).  Every argument is
** read and checked first, so misuse raises before the first step and
** nothing after it can raise.
**   argv   {prog, ...}; no '/' in prog: PATH from env (default
**          /usr/local/bin:/usr/bin:/bin), EACCES remembered, no ENOEXEC shell
**   env    {"K=V", ...} and/or {K = "V"}: exactly the environment
**   opts   status_fd (>= 3, close-on-exec), cgroup_procs {fd...}, keep_fds
**          {fd...} (kept, made inheritable), tty, uid, gid, groups {gid...},
**          keep_caps, userns (a user namespace fd to join before the ids),
**          cwd ("/", or a list: the first directory chdir enters),
**          set_pwd (PWD=<that directory> in env), argv0 (argv[0] for
**          execve; argv[1] stays the file run), session ("new": setsid;
**          "keep": the caller's session and process group), die_with_parent
**          (PR_SET_PDEATHSIG SIGKILL after the ids), rlimits {name = n |
**          {soft, hard}}, caps {"net_raw", ...} (those not permitted are
**          left out), host_caps (leave the capability sets as they are),
**          no_new_privs (true; false: the filters load before the
**          capability drop), umask (0..0777, before stdio_inside),
**          personality ("linux" | "linux32": personality(2) after the
**          rlimits), seccomp (raw struct sock_filter array),
**          seccomp_guard (a raw program loaded before seccomp: nslua's
**          set-id guard), seccomp_bpf {prog, ...} (more raw programs, loaded after seccomp
**          in order), stdio_inside {stdin, stdout, stderr = PATH} (opened
**          by the command after the ids, dup2'd onto 0-2), stderr_to_stdout
**          (fd 2 = fd 1 after that), exec_error ("stderr": a failed execve
**          writes 'execve("FILE"): TEXT' to fd 2 and _exit(127)s, no record),
**          landlock {fs, net, rules} (core.landlock's ruleset, after the
**          personality, before the filters; a rule whose path does not
**          open is skipped with a "landlock <rule> <errno>" record)
** Steps and details: cgroup, signals, fds, setsid, tty,
** ids (keepcaps|setgroups|setresgid|setresuid),
** userns (setns), pdeathsig, stdio (the path; "stderr": the dup), cwd,
** rlimit (<name>),
** caps (cap_get_proc|cap_set_proc|cap_drop_bound|cap_reset_ambient|
** cap_set_ambient), no_new_privs, landlock (landlock_create_ruleset|
** landlock_add_rule|landlock_restrict_self), seccomp (seccomp_bpf[<i>]
** for a raw program), execve.
*/
static int proc_exec (lua_State *L) {
  nslua_exec_run(nslua_exec_args(L, "exec"));
  return 0;
}
/* Registered into core.proc by proc.c. */
const luaL_Reg nslua_proc_exec_funcs[] = {
  {"exec", proc_exec},
  {NULL, NULL}
};
