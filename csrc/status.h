/* status.h - the status-pipe protocol: the only writer of its records. */
/* SPDX-License-Identifier: MIT */
#ifndef NSLUA_STATUS_H
#define NSLUA_STATUS_H

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/*
** The status pipe carries what the child side of a run tells the parent:
** the set-up child (setup.c), the exec tail (exec.c) and the init
** (init.c) write to the same pipe, and lua/nslua/status.lua is its one
** parser.  Records are text lines, one record per write(2), fields
** separated by one space, ended by "\n".  Numbers are decimal; <errno> is
** the positive errno value; a <step> or <how> is one word without spaces.
** A record longer than its buffer is cut short and still ends in "\n".
**
**   pid <n> <t>
**       The command has been spawned as pid <n> (the pid in the init's pid
**       namespace); its clock started at <t>, CLOCK_MONOTONIC seconds with
**       nine decimals ("1234.000012345"): the time its exec tail took
**       after the cgroup join and the set-up, just before the seccomp
**       filters and execve (exec_late.start_ns, nslua.h), else the time
**       of this record.  The report's wall_s counts from <t>.  Written by the
**       set-up child before it becomes the init;
**       without an init (plan.init = false), before it becomes the command
**       itself: its own pid (1 in a pid namespace of its own).  The status
**       pipe then ends at the command's execve, and no "exit" record comes:
**       the parent has the command's wait status from waitpid.
**
**   marks
**       The mounts are in place and the sandbox has the set-id guard's
**       watch (guard.c): the set-up child waits on its sync fd for the
**       parent, which marks the mounts that write as host root, to write
**       "m" (end of file: _exit(1)).  Before "pid".
**
**   setup <step> <errno> <message>
**       A set-up step failed; the writer then _exit(1)s.  <message> is
**       the rest of the line, for people, and may hold spaces:
**         [<what>: ]<call>[ '<subject>']: <strerror(errno)>[<note>]
**       e.g. "setup mounts 2 /proc: mount '/newroot/proc': No such file
**       or directory".  <note>, when given, starts with its own separator.
**       A Lua hook that raised is "setup hook:<stage> 0 <its message>"
**       (newlines in the message become spaces).
**
**   exec <step> <errno>[ <detail>]
**       A step of the exec tail failed; the writer then _exit(1)s.  Steps:
**       stdio, cgroup, signals, fds, setsid, tty, ids, userns, pdeathsig,
**       cwd, rlimit, personality, landlock, caps, no_new_privs, seccomp, execve.  <detail> names
**       the call or the rlimit (ids: keepcaps|setgroups|setresgid|
**       setresuid; userns: setns; stdio: the path opened inside, the rest
**       of the line, or "stderr" for the dup of stdout;
**       rlimit: its name; caps: cap_get_proc|cap_set_proc|cap_drop_bound|
**       cap_reset_ambient|cap_set_ambient).  A successful execve writes
**       nothing: the pipe end is close-on-exec, and its end of file says so.
**       When the command's seccomp filter forbids this write, the init
**       writes the record (before "exit") from the failure the exec tail
**       left in memory it shares with the init (exec_late, nslua.h).
**
**   landlock <rule> <errno>
**       The exec tail skipped rule <rule> (1-based, of plan.exec.landlock's
**       rules) of the Landlock ruleset: its path did not open inside the
**       sandbox (<errno>).  The rest of the ruleset is enforced; the
**       report lists the rule as not enforced.  Before any "exec" record.
**
**   init <step> <errno>
**       The init could not set itself up (signals, subreaper, signalfd,
**       fds, dumpable) or lost its children (wait, read, poll) or the
**       set-id guard's answerer (guard, EPIPE); it kills the command (as
**       PID 1, every process of its pid namespace) and _exit(1)s.
**
**   exit <how> <code> <utime> <stime> <maxrss> <cutime> <cstime> <xfsz> <nvcsw> <nivcsw> <t>
**       The command ended; the init then _exit(0)s.  <how> is "exited"
**       (<code> is the exit status) or "signaled" (<code> is the signal).
**       From the command's wait4 rusage (the command and the descendants
**       it waited for): <utime> <stime> in seconds with six decimals
**       ("0.012000"), <maxrss> in KiB, <nvcsw> <nivcsw> its voluntary and
**       involuntary context switches.  From the init's RUSAGE_CHILDREN
**       (every process of the sandbox that was reaped): <cutime> <cstime>.
**       <xfsz> is 1 when some process of the sandbox died of SIGXFSZ (an
**       output limit), else 0.  <t>: when the init reaped the command,
**       CLOCK_MONOTONIC as in "pid" (the end of the report's wall_s).
**       Fields may be added at the end only.
**
** The writers are async-signal-safe in the sense the child paths need: no
** allocation and no locks, a stack buffer and one write(2) (retried on
** EINTR only).  Each returns 0 or the errno of the write; a caller that is
** about to _exit may ignore it, as there is nobody left to tell.
*/

/* One record: 'n' is what snprintf returned for 'buf' of 'size' bytes. */
static inline int nslua_status_write (int fd, char *buf, size_t size, int n) {
  if (n < 0)
    return EINVAL;
  if ((size_t)n >= size) {
    buf[size - 2] = '\n';
    n = (int)size - 1;
  }
  while (write(fd, buf, (size_t)n) < 0)
    if (errno != EINTR)
      return errno;
  return 0;
}

/* CLOCK_MONOTONIC in ns (0 when the clock fails, which it cannot) */
static inline long long nslua_now_ns (void) {
  struct timespec ts;
  if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
    return 0;
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* "pid <n> <t>\n" (<t>: 'ns', CLOCK_MONOTONIC, or now when 'ns' is 0) */
static inline int nslua_status_pid_at (int fd, pid_t pid, long long ns) {
  char buf[64];
  if (ns <= 0 && (ns = nslua_now_ns()) == 0)
    return EINVAL;
  return nslua_status_write(fd, buf, sizeof buf,
                            snprintf(buf, sizeof buf, "pid %d %lld.%09lld\n", (int)pid,
                                     ns / 1000000000LL, ns % 1000000000LL));
}

/* "pid <n> <t>\n" (<t>: now) */
static inline int nslua_status_pid (int fd, pid_t pid) {
  return nslua_status_pid_at(fd, pid, 0);
}

/* "setup <step> <errno> [<what>: ]<call>[ '<subject>']: <strerror><note>\n"
** 'what', 'subject' and 'note' may be NULL. */
static inline int nslua_status_setup (int fd, const char *step, int err, const char *what,
                                      const char *call, const char *subject,
                                      const char *note) {
  char buf[PATH_MAX + 512];
  int n;
  if (subject != NULL)
    n = snprintf(buf, sizeof buf, "setup %s %d %s%s%s '%s': %s%s\n", step, err,
                 what ? what : "", what ? ": " : "", call, subject, strerror(err),
                 note ? note : "");
  else
    n = snprintf(buf, sizeof buf, "setup %s %d %s%s%s: %s%s\n", step, err,
                 what ? what : "", what ? ": " : "", call, strerror(err),
                 note ? note : "");
  return nslua_status_write(fd, buf, sizeof buf, n);
}

/* "setup <step> <errno> <msg>\n": a message of its own (a hook's error),
** newlines turned into spaces so the record stays one line. */
static inline int nslua_status_setup_msg (int fd, const char *step, int err, const char *msg) {
  char buf[1024];
  int i, n = snprintf(buf, sizeof buf, "setup %s %d %s\n", step, err, msg);
  for (i = 0; i < n - 1 && (size_t)i < sizeof buf - 2; i++)
    if (buf[i] == '\n')
      buf[i] = ' ';
  return nslua_status_write(fd, buf, sizeof buf, n);
}

/* "exec <step> <errno>[ <detail>]\n"   ('detail' may be NULL; a newline
** in it, as in a path, becomes a space: the record stays one line) */
static inline int nslua_status_exec (int fd, const char *step, int err,
                                     const char *detail) {
  char buf[PATH_MAX + 64];        /* the detail of "stdio" is a path */
  int i, n;
  if (detail != NULL)
    n = snprintf(buf, sizeof buf, "exec %s %d %s\n", step, err, detail);
  else
    n = snprintf(buf, sizeof buf, "exec %s %d\n", step, err);
  for (i = 0; i < n - 1 && (size_t)i < sizeof buf - 2; i++)
    if (buf[i] == '\n')
      buf[i] = ' ';
  return nslua_status_write(fd, buf, sizeof buf, n);
}

/* "marks\n" */
static inline int nslua_status_marks (int fd) {
  char buf[8];
  return nslua_status_write(fd, buf, sizeof buf, snprintf(buf, sizeof buf, "marks\n"));
}

/* "landlock <rule> <errno>\n" */
static inline int nslua_status_landlock (int fd, size_t rule, int err) {
  char buf[64];
  return nslua_status_write(fd, buf, sizeof buf,
                            snprintf(buf, sizeof buf, "landlock %zu %d\n", rule, err));
}

/* "init <step> <errno>\n" */
static inline int nslua_status_init (int fd, const char *step, int err) {
  char buf[64];
  return nslua_status_write(fd, buf, sizeof buf,
                            snprintf(buf, sizeof buf, "init %s %d\n", step, err));
}

/* "exit <how> <code> <utime> <stime> <maxrss> <cutime> <cstime> <xfsz> <nvcsw> <nivcsw> <t>\n"
** 'wstatus' is the command's wait status and 'ru' its rusage; 'cru' is the
** init's RUSAGE_CHILDREN; 'end_ns' when it was reaped (CLOCK_MONOTONIC). */
static inline int nslua_status_exit (int fd, int wstatus, const struct rusage *ru,
                                     const struct rusage *cru, int xfsz, long long end_ns) {
  char buf[256];
  int n = snprintf(buf, sizeof buf,
                   "exit %s %d %ld.%06ld %ld.%06ld %ld %ld.%06ld %ld.%06ld %d %ld %ld %lld.%09lld\n",
                   WIFSIGNALED(wstatus) ? "signaled" : "exited",
                   WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : WEXITSTATUS(wstatus),
                   (long)ru->ru_utime.tv_sec, (long)ru->ru_utime.tv_usec,
                   (long)ru->ru_stime.tv_sec, (long)ru->ru_stime.tv_usec,
                   (long)ru->ru_maxrss,
                   (long)cru->ru_utime.tv_sec, (long)cru->ru_utime.tv_usec,
                   (long)cru->ru_stime.tv_sec, (long)cru->ru_stime.tv_usec,
                   xfsz ? 1 : 0, (long)ru->ru_nvcsw, (long)ru->ru_nivcsw,
                   end_ns / 1000000000LL, end_ns % 1000000000LL);
  return nslua_status_write(fd, buf, sizeof buf, n);
}

#endif
