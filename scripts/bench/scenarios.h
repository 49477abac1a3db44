/* scenarios.h - the limit's scenarios, shared by limit.c and the bench Lua module. */
/* SPDX-License-Identifier: MIT */
#ifndef BENCH_SCENARIOS_H
#define BENCH_SCENARIOS_H

#include <sys/resource.h>

/*
** S1 pid+mnt+uts+ipc, / private, fresh /proc, hostname
** S2 S1 + net, lo up
** S3 S2 + user (rootless caller: the child maps its own id to 0)
** S4 S2 + pivot_root into a busybox root
** S5 S4 + user (the parent maps 0 to an unprivileged host id, then releases
**    the child over a sync pipe) + memory/pids cgroups created per run,
**    RLIMIT_CPU: what `nslua run --memory 256M --pids 64 --time 10` does
*/
enum { BENCH_S1 = 1, BENCH_S2, BENCH_S3, BENCH_S4, BENCH_S5 };

struct bench_opts {
  int scenario;         /* BENCH_S1 .. BENCH_S5 */
  int structure;        /* nslua's process structure: an init forks the
                           command, wait4s it and reports over a pipe */
  const char *root;     /* S4, S5: the busybox root (absolute path) */
  const char *path;     /* the command, default "/bin/true" */
};

struct bench_result {
  int status;           /* wait status of the command */
  struct rusage ru;     /* its rusage (structure: from the init's wait4) */
};

/* bench_scenario("S2") -> BENCH_S2 | -1 */
int bench_scenario (const char *name);

/*
** bench_run(opts, res) -> 0 | -1 with bench_errmsg() set.  One sandbox:
** clone, child set-up, execve, wait.  A child set-up failure is reported
** on stderr by the child and shows as exit status 125.
*/
int bench_run (const struct bench_opts *o, struct bench_result *r);

/* bench_errmsg() -> "step 'subject': strerror" of the last failure */
const char *bench_errmsg (void);

#endif
