/* benchmod.c - require "bench": a clock, a pause, a timed spawn, the limit's own code. */
/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "scenarios.h"

extern char **environ;

#define MAXARGS 256

static int fail (lua_State *L, int err, const char *op, const char *subject) {
  luaL_pushfail(L);
  lua_pushfstring(L, "%s '%s': %s", op, subject, strerror(err));
  lua_pushinteger(L, err);
  return 3;
}

static double now (void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void push_status (lua_State *L, int status) {
  if (WIFSIGNALED(status)) {
    lua_pushliteral(L, "signaled");
    lua_pushinteger(L, WTERMSIG(status));
  } else {
    lua_pushliteral(L, "exited");
    lua_pushinteger(L, WEXITSTATUS(status));
  }
}

/* bench.now() -> seconds of CLOCK_MONOTONIC */
static int b_now (lua_State *L) {
  lua_pushnumber(L, now());
  return 1;
}

/*
** bench.sleep(seconds) -> true
** nanosleep, resumed after a signal: a pause that spawns nothing (a judge
** pauses between tests; the bench's ISO scenario does the same).
*/
static int b_sleep (lua_State *L) {
  lua_Number s = luaL_checknumber(L, 1);
  struct timespec ts;
  luaL_argcheck(L, s >= 0 && s <= 3600, 1, "seconds must be 0..3600");
  ts.tv_sec = (time_t)s;
  ts.tv_nsec = (long)((s - (lua_Number)ts.tv_sec) * 1e9);
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
  lua_pushboolean(L, 1);
  return 1;
}

/* fill 'out' (NULL-terminated) from the list at 'idx'; raises on misuse */
static void check_list (lua_State *L, int idx, const char **out, const char *what) {
  lua_Integer i, n = luaL_len(L, idx);
  luaL_argcheck(L, n < MAXARGS, idx, what);
  for (i = 1; i <= n; i++) {
    lua_geti(L, idx, i);
    luaL_argcheck(L, lua_type(L, -1) == LUA_TSTRING, idx, what);
    out[i - 1] = lua_tostring(L, -1);
    lua_pop(L, 1);  /* still referenced by the table */
  }
  out[n] = NULL;
}

static lua_Integer opt_int (lua_State *L, int t, const char *k, lua_Integer def) {
  lua_Integer v;
  lua_getfield(L, t, k);
  v = luaL_optinteger(L, -1, def);
  lua_pop(L, 1);
  return v;
}

static const char *opt_str (lua_State *L, int t, const char *k) {
  const char *v;
  lua_getfield(L, t, k);
  v = luaL_optstring(L, -1, NULL);
  lua_pop(L, 1);  /* the string stays referenced by the table */
  return v;
}

/* in the spawned child: "inherit" keeps 'fd', a path is created (0600), else /dev/null */
static void child_stdio (int fd, const char *how, int devnull) {
  int f;
  if (how && strcmp(how, "inherit") == 0)
    return;
  if (!how) {
    dup2(devnull, fd);
    return;
  }
  if ((f = open(how, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
    _exit(126);
  dup2(f, fd);
}

/*
** A task-clock counter of pid and every task it starts (what `perf stat`
** counts), enabled at its exec: -1 where perf events are not allowed.
** The kernel stops counting a task at the exec of a set-id or unreadable
** program (it is not dumpable), and never counts work deferred to kernel
** threads.
*/
static int task_clock (pid_t pid) {
  struct perf_event_attr a;
  memset(&a, 0, sizeof a);
  a.type = PERF_TYPE_SOFTWARE;
  a.size = sizeof a;
  a.config = PERF_COUNT_SW_TASK_CLOCK;
  a.disabled = 1;
  a.inherit = 1;
  a.enable_on_exec = 1;
  return (int)syscall(SYS_perf_event_open, &a, pid, -1, -1, PERF_FLAG_FD_CLOEXEC);
}

#define MAXKIDS 256

/* Our children now (/proc/thread-self/children: the runner has one
** thread), at most MAXKIDS of them: their count, -1 when unreadable. */
static int children (pid_t *kids) {
  char buf[MAXKIDS * 8 + 1];
  int fd = open("/proc/thread-self/children", O_RDONLY | O_CLOEXEC);
  ssize_t n;
  if (fd < 0)
    return -1;
  while ((n = read(fd, buf, sizeof buf - 1)) < 0 && errno == EINTR)
    ;
  close(fd);
  if (n < 0)
    return -1;
  buf[n] = '\0';
  int k = 0;
  for (char *p = buf, *end; k < MAXKIDS; p = end) {
    long v = strtol(p, &end, 10);
    if (end == p)
      break;
    kids[k++] = (pid_t)v;
  }
  return k;
}

static int listed (pid_t pid, const pid_t *kids, int n) {
  for (int i = 0; i < n; i++)
    if (kids[i] == pid)
      return 1;
  return 0;
}

/*
** Wait for and reap the orphans a spawned command left, which came to us
** as the subreaper: every child not in 'before' (the children we had
** before the spawn, which are left alone), until none is left or the
** deadline passes.
*/
static void reap_orphans (const pid_t *before, int nbefore, double deadline) {
  pid_t kids[MAXKIDS];
  for (;;) {
    int n = children(kids), left = 0;
    if (n < 0)
      return;
    for (int i = 0; i < n; i++) {
      int st;
      if (listed(kids[i], before, nbefore))
        continue;
      if (waitpid(kids[i], &st, WNOHANG | __WALL) == 0)
        left++;
    }
    if (left == 0 || now() >= deadline)
      return;
    struct timespec ms = { 0, 1000000 };
    nanosleep(&ms, NULL);
  }
}

/*
** bench.spawn(argv [, {uid, gid, cwd, env = {"K=V", ...}, stdout = how,
**   stderr = how, fd3 = PATH, tmpfs_over = PATH, timeout = SECONDS}])
**   -> seconds, "exited"|"signaled", code, maxrss_kb, cpu_seconds, cpu_how
**    | nil, msg, errno
** fork, (ids, cwd,) execve, wait4, timed with CLOCK_MONOTONIC.  stdin is
** /dev/null; stdout and stderr are /dev/null, "inherit", or a file path
** (opened before the ids change).  fd3: PATH opened read-only as fd 3
** (bwrap's --seccomp 3 reads a program from it).  cpu_seconds: the CPU
** time of the command and every process it started, reaped or not, read
** once they are all gone (the first spawn makes the caller a child
** subreaper: what a command leaves running comes to it, and is waited
** for and reaped here, at most 2 s after the command; the caller's other
** children are left alone); cpu_how
** "task-clock" (a perf counter, as `perf stat` counts: see task_clock),
** or where perf events are refused "rusage" (wait4's, which misses what a
** command leaves unreaped).  tmpfs_over: first enter a private mount
** namespace with an empty tmpfs over PATH (how crun 1.8 is made to accept a
** cgroup2 mount with controllers).  timeout: an alarm(2) that survives the
** exec, so a hung command dies of SIGALRM.  A set-up failure is exit 126,
** an exec failure 127.
*/
static int b_spawn (lua_State *L) {
  const char *argv[MAXARGS], *envbuf[MAXARGS], *cwd, *out, *err, *over, *fd3;
  const char **envp = (const char **)environ;
  lua_Integer uid, gid, timeout;
  struct rusage ru;
  int devnull, status, go[2], clk, nbefore;
  pid_t before[MAXKIDS];
  uint64_t clk_ns = 0;
  double t0, t1;
  pid_t pid;

  luaL_checktype(L, 1, LUA_TTABLE);
  check_list(L, 1, argv, "argv must be a list of strings");
  luaL_argcheck(L, argv[0] != NULL, 1, "argv is empty");
  if (lua_isnoneornil(L, 2))
    lua_newtable(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  uid = opt_int(L, 2, "uid", -1);
  gid = opt_int(L, 2, "gid", uid);
  cwd = opt_str(L, 2, "cwd");
  out = opt_str(L, 2, "stdout");
  err = opt_str(L, 2, "stderr");
  over = opt_str(L, 2, "tmpfs_over");
  fd3 = opt_str(L, 2, "fd3");
  timeout = opt_int(L, 2, "timeout", 0);
  lua_getfield(L, 2, "env");  /* keep at index 3 */
  if (!lua_isnil(L, 3)) {
    luaL_argcheck(L, lua_istable(L, 3), 2, "env must be a list of strings");
    check_list(L, 3, envbuf, "env must be a list of strings");
    envp = envbuf;
  }

  /* a command's orphans come to us, to be counted and reaped; the
  ** children we already have are not its */
  static int subreaper;
  if (!subreaper) {
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
      return fail(L, errno, "prctl", "PR_SET_CHILD_SUBREAPER");
    subreaper = 1;
  }
  nbefore = children(before);
  devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0)
    return fail(L, errno, "open", "/dev/null");
  /* (a socket pair: a child that died before reading makes the parent's
  ** send fail with EPIPE, MSG_NOSIGNAL, not kill it with SIGPIPE) */
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, go) != 0) {
    int e = errno;
    close(devnull);
    return fail(L, e, "socketpair", argv[0]);
  }
  t0 = now();
  pid = fork();
  if (pid < 0) {
    int e = errno;
    close(devnull);
    close(go[0]);
    close(go[1]);
    return fail(L, e, "fork", argv[0]);
  }
  if (pid == 0) {
    /* the parent's counter is on this task before anything (its end
    ** closed here: a parent that died makes the read return 0) */
    close(go[1]);
    ssize_t got;
    while ((got = read(go[0], &status, 1)) < 0 && errno == EINTR)
      ;
    if (got != 1)
      _exit(126);
    close(go[0]);
    /* (devnull is fd 0 when the caller had none: keep it across the exec) */
    if (devnull == 0 ? fcntl(0, F_SETFD, 0) != 0 : dup2(devnull, 0) != 0)
      _exit(126);
    child_stdio(1, out, devnull);
    child_stdio(2, err, devnull);
    if (fd3) {
      int f = open(fd3, O_RDONLY);
      if (f < 0 || (f != 3 && (dup2(f, 3) != 3 || close(f) != 0)))
        _exit(126);
    }
    if (over && (unshare(CLONE_NEWNS) != 0 ||
                 mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
                 mount("none", over, "tmpfs", 0, "size=4k") != 0))
      _exit(126);
    if (gid >= 0 && (setgroups(0, NULL) != 0 || setresgid((gid_t)gid, (gid_t)gid, (gid_t)gid) != 0))
      _exit(126);
    if (uid >= 0 && setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid) != 0)
      _exit(126);
    if (cwd && chdir(cwd) != 0)
      _exit(126);
    if (timeout > 0)
      alarm((unsigned)timeout);
    execve(argv[0], (char *const *)argv, (char *const *)envp);
    _exit(127);
  }
  close(devnull);
  close(go[0]);
  clk = task_clock(pid);
  /* (a child that died in its set-up: the send fails, wait4 says how) */
  (void)send(go[1], "x", 1, MSG_NOSIGNAL);
  close(go[1]);
  while (wait4(pid, &status, 0, &ru) < 0) {
    if (errno != EINTR) {
      int e = errno;
      if (clk >= 0)
        close(clk);
      return fail(L, e, "wait4", argv[0]);
    }
  }
  t1 = now();
  /* what the command left running (bwrap's pid 1, still tearing down its
  ** namespaces when bwrap has exited) was reparented to us, the
  ** subreaper: it is counted once it has exited, so wait for it */
  if (nbefore >= 0)
    reap_orphans(before, nbefore, t1 + 2.0);
  if (clk >= 0 && read(clk, &clk_ns, sizeof clk_ns) != (ssize_t)sizeof clk_ns)
    clk_ns = 0;
  if (clk >= 0)
    close(clk);
  lua_pushnumber(L, t1 - t0);
  push_status(L, status);
  lua_pushinteger(L, ru.ru_maxrss);
  if (clk_ns > 0) {
    lua_pushnumber(L, (double)clk_ns / 1e9);
    lua_pushliteral(L, "task-clock");
  } else {
    lua_pushnumber(L, (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                      (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
    lua_pushliteral(L, "rusage");
  }
  return 6;
}

/*
** bench.run(scenario [, {structure = bool, root = PATH, path = CMD}])
**   -> "exited"|"signaled", code, maxrss_kb | nil, msg, errno
** One sandbox with the limit's own code (scenarios.c).
*/
static int b_run (lua_State *L) {
  static const char *const names[] = {"S1", "S2", "S3", "S4", "S5", NULL};
  struct bench_opts o;
  struct bench_result r;
  o.scenario = luaL_checkoption(L, 1, NULL, names) + 1;
  o.structure = 0;
  o.root = o.path = NULL;
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_getfield(L, 2, "structure");
    o.structure = lua_toboolean(L, -1);
    lua_pop(L, 1);
    o.root = opt_str(L, 2, "root");
    o.path = opt_str(L, 2, "path");
  }
  luaL_argcheck(L, o.root || (o.scenario != 4 && o.scenario != 5), 2,
                "S4 and S5 need a root");
  if (bench_run(&o, &r) != 0) {
    int e = errno;
    luaL_pushfail(L);
    lua_pushstring(L, bench_errmsg());
    lua_pushinteger(L, e);
    return 3;
  }
  push_status(L, r.status);
  lua_pushinteger(L, r.ru.ru_maxrss);
  return 3;
}

static const luaL_Reg funcs[] = {
  {"now", b_now},
  {"run", b_run},
  {"sleep", b_sleep},
  {"spawn", b_spawn},
  {NULL, NULL}
};

__attribute__((visibility("default"))) int luaopen_bench (lua_State *L);

/* require "bench" */
int luaopen_bench (lua_State *L) {
  luaL_newlib(L, funcs);
  return 1;
}
