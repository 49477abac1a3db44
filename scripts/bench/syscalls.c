/* syscalls.c - N getppid(2) calls in a loop; prints the calls per second.
** The NOTIFY scenario runs it with and without a Lua handler for getppid
** (static: it runs in a sandbox root with no libc). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main (int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 100000, i;
  struct timespec a, b;
  double s;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (i = 0; i < n; i++)
    syscall(SYS_getppid);
  clock_gettime(CLOCK_MONOTONIC, &b);
  s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
  printf("%ld %.0f\n", n, (double)n / s);
  return 0;
}
