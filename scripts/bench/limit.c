/* limit.c - the floor: one sandbox per scenario, as a command or in a loop. */
/* SPDX-License-Identifier: MIT */
/*
** limit -s S2 [-p] [-r ROOT] [-c CMD]         one sandbox; exits with its status
** limit -s S2 [-p] [-r ROOT] [-c CMD] -n N    N sandboxes in this process;
**     prints "S2 direct|structure N runs T s R runs/s"
** -p: nslua's process structure (an init forks the command, wait4s it and
**     reports status and rusage over a pipe).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "scenarios.h"

static void usage (void) {
  fputs("usage: limit -s S1..S5 [-p] [-r ROOT] [-c CMD] [-n N]\n", stderr);
  exit(2);
}

static double now (void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int exit_code (int status) {
  if (WIFEXITED(status))
    return WEXITSTATUS(status);
  if (WIFSIGNALED(status))
    return 128 + WTERMSIG(status);
  return 125;
}

int main (int argc, char **argv) {
  struct bench_opts o = {0, 0, NULL, NULL};
  struct bench_result r;
  const char *name = NULL;
  long n = 0, i;
  double t0, dt;
  int c;

  while ((c = getopt(argc, argv, "s:pr:c:n:")) != -1) {
    switch (c) {
      case 's': name = optarg; o.scenario = bench_scenario(optarg); break;
      case 'p': o.structure = 1; break;
      case 'r': o.root = optarg; break;
      case 'c': o.path = optarg; break;
      case 'n': n = strtol(optarg, NULL, 10); if (n <= 0) usage(); break;
      default: usage();
    }
  }
  if (o.scenario < 0 || !name || optind != argc)
    usage();
  if (n == 0) {
    if (bench_run(&o, &r) != 0) {
      fprintf(stderr, "limit: %s\n", bench_errmsg());
      return 125;
    }
    return exit_code(r.status);
  }
  t0 = now();
  for (i = 0; i < n; i++) {
    if (bench_run(&o, &r) != 0) {
      fprintf(stderr, "limit: run %ld: %s\n", i + 1, bench_errmsg());
      return 125;
    }
    if (r.status != 0) {
      fprintf(stderr, "limit: run %ld: command status %d\n", i + 1, exit_code(r.status));
      return 1;
    }
  }
  dt = now() - t0;
  printf("%s %s %ld runs %.6f s %.1f runs/s\n", name,
         o.structure ? "structure" : "direct", n, dt, (double)n / dt);
  return 0;
}
