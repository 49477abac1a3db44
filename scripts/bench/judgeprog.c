/* judgeprog.c - JUDGE's submission: a 50 ms busy loop, then 1 MiB on stdout.
** It times itself (CLOCK_MONOTONIC, from main to after its last write) and
** writes one line on stderr, "START END ELAPSED" in seconds, so the bench
** knows the program's own run time and where each test sat in time (judges
** run tests back to back: the gap from one END to the next START is the
** judge's own cost).  Static: a judge's sandbox binds it alone.
**   judgeprog [MS [BYTES]]   (default 50 ms, 1048576 bytes) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now (void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main (int argc, char **argv) {
  double t0 = now(), t1, busy = (argc > 1 ? atof(argv[1]) : 50) / 1000;
  long left = argc > 2 ? atol(argv[2]) : 1L << 20;
  static char buf[65536];
  memset(buf, 'x', sizeof buf);
  while (now() - t0 < busy)
    ;
  while (left > 0) {
    ssize_t n = write(1, buf, left < (long)sizeof buf ? (size_t)left : sizeof buf);
    if (n < 0) {
      perror("judgeprog: write");
      return 1;
    }
    left -= n;
  }
  t1 = now();
  fprintf(stderr, "%.6f %.6f %.6f\n", t0, t1, t1 - t0);
  return 0;
}
