/* util.c - the failure triple, flag sets, the nslua.fd box, plain fd helpers. */
/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nslua.h"

/*
** Push the failure triple  nil, "what 'arg': strerror", errno.
** Callers pass errno they saved right after the syscall: Lua API
** calls and cleanup (close, free) may overwrite it.
*/
int nslua_fail (lua_State *L, int err, const char *what, const char *arg) {
  luaL_pushfail(L);
  if (arg != NULL)
    lua_pushfstring(L, "%s '%s': %s", what, arg, strerror(err));
  else
    lua_pushfstring(L, "%s: %s", what, strerror(err));
  lua_pushinteger(L, err);
  return 3;
}

int nslua_ok (lua_State *L) {
  lua_pushboolean(L, 1);
  return 1;
}

/* "unknown flag 'x' (valid: a b c)", left on the stack. */
static const char *unknown_flag (lua_State *L, const char *name,
                                 const nslua_flag *tab) {
  luaL_Buffer b;
  const nslua_flag *f;
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "unknown flag '");
  luaL_addstring(&b, name);
  luaL_addstring(&b, "' (valid:");
  for (f = tab; f->name != NULL; f++) {
    luaL_addchar(&b, ' ');
    luaL_addstring(&b, f->name);
  }
  luaL_addchar(&b, ')');
  luaL_pushresult(&b);
  return lua_tostring(L, -1);
}

/*
** Read a flag set {net = true, pid = true} at 'arg' into a bit mask.
** Unknown names and non-boolean values are programming errors: raise.
*/
unsigned long nslua_checkflags (lua_State *L, int arg, const nslua_flag *tab) {
  unsigned long bits = 0;
  arg = lua_absindex(L, arg);
  luaL_checktype(L, arg, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, arg) != 0) {
    const nslua_flag *f;
    const char *name;
    if (lua_type(L, -2) != LUA_TSTRING)
      luaL_argerror(L, arg, "flag names must be strings");
    name = lua_tostring(L, -2);
    for (f = tab; f->name != NULL && strcmp(f->name, name) != 0; f++)
      ;
    if (f->name == NULL)
      luaL_argerror(L, arg, unknown_flag(L, name, tab));
    if (!lua_isboolean(L, -1))
      luaL_argerror(L, arg, lua_pushfstring(L, "flag '%s' must be a boolean", name));
    if (lua_toboolean(L, -1))
      bits |= f->bits;
    lua_pop(L, 1);  /* keep the key for lua_next */
  }
  return bits;
}

unsigned long nslua_optflags (lua_State *L, int arg, const nslua_flag *tab) {
  if (lua_isnoneornil(L, arg))
    return 0;
  return nslua_checkflags(L, arg, tab);
}

/*
** fd boxes.  The box is created *closed* (-1) before the descriptor is
** opened, so a memory error while allocating it can never leak an fd.
*/
int *nslua_newfd (lua_State *L) {
  int *box = (int *)lua_newuserdatauv(L, sizeof(int), 0);
  *box = -1;
  luaL_setmetatable(L, NSLUA_FD);
  return box;
}

static int *checkbox (lua_State *L, int arg) {
  int *box = (int *)luaL_checkudata(L, arg, NSLUA_FD);
  if (*box < 0)
    luaL_argerror(L, arg, "attempt to use a closed fd");
  return box;
}

int nslua_checkfd (lua_State *L, int arg) {
  if (lua_type(L, arg) == LUA_TNUMBER) {
    lua_Integer fd = luaL_checkinteger(L, arg);
    luaL_argcheck(L, fd >= 0 && fd <= 0x7fffffff, arg, "fd out of range");
    return (int)fd;
  }
  if (lua_touserdata(L, arg) == NULL)
    luaL_typeerror(L, arg, "fd box or integer");
  return *checkbox(L, arg);
}

int nslua_optfd (lua_State *L, int arg, int def) {
  if (lua_isnoneornil(L, arg))
    return def;
  return nslua_checkfd(L, arg);
}

/* fd:close() -> true | nil, msg, errno.  Not retried on EINTR: Linux
** releases the descriptor whatever close returns. */
static int fd_close (lua_State *L) {
  int *box = checkbox(L, 1);
  int fd = *box;
  *box = -1;
  if (close(fd) != 0)
    return nslua_fail(L, errno, "close", NULL);
  return nslua_ok(L);
}

/* fd:fileno() -> integer */
static int fd_fileno (lua_State *L) {
  lua_pushinteger(L, *checkbox(L, 1));
  return 1;
}

/* fd:release() -> integer; the box no longer owns the descriptor. */
static int fd_release (lua_State *L) {
  int *box = checkbox(L, 1);
  lua_pushinteger(L, *box);
  *box = -1;
  return 1;
}

/* fd:closed() -> boolean */
static int fd_closed (lua_State *L) {
  int *box = (int *)luaL_checkudata(L, 1, NSLUA_FD);
  lua_pushboolean(L, *box < 0);
  return 1;
}

/* __gc and __close: never raise, never report. */
static int fd_gc (lua_State *L) {
  int *box = (int *)luaL_checkudata(L, 1, NSLUA_FD);
  if (*box >= 0) {
    (void)close(*box);
    *box = -1;
  }
  return 0;
}

static int fd_tostring (lua_State *L) {
  int *box = (int *)luaL_checkudata(L, 1, NSLUA_FD);
  if (*box < 0)
    lua_pushliteral(L, "nslua.fd (closed)");
  else
    lua_pushfstring(L, "nslua.fd (%d)", *box);
  return 1;
}

static const luaL_Reg fd_methods[] = {
  {"close", fd_close},
  {"closed", fd_closed},
  {"fileno", fd_fileno},
  {"release", fd_release},
  {NULL, NULL}
};

static const luaL_Reg fd_meta[] = {
  {"__close", fd_gc},
  {"__gc", fd_gc},
  {"__tostring", fd_tostring},
  {"__index", NULL},
  {NULL, NULL}
};

void nslua_open_fd (lua_State *L) {
  if (luaL_newmetatable(L, NSLUA_FD)) {
    luaL_setfuncs(L, fd_meta, 0);
    luaL_newlib(L, fd_methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
}

/* ------------------------------------------------------------------ */
/* plain fd helpers: no Lua state, usable in a child before exec        */
/* ------------------------------------------------------------------ */

/*
** A pty pair from 'ptmx', which may be the ptmx of another devpts
** instance (a sandbox's /newroot/dev/pts/ptmx): the slave is opened from
** the master with TIOCGPTPEER (Linux 4.13), not by a path lookup, so it
** belongs to the same instance.  Both ends O_NOCTTY | O_CLOEXEC.  Returns
** 0, or an errno with *what naming the call.
*/
int nslua_openpty (const char *ptmx, int *master, int *slave, unsigned int *n,
                   const char **what) {
  int err = 0, unlock = 0, m;
  unsigned int num = 0;
  *what = "open";
  if ((m = open(ptmx, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0)
    return errno;
  if (ioctl(m, TIOCSPTLCK, &unlock) != 0)
    *what = "ioctl 'TIOCSPTLCK'", err = errno;
  else if (n != NULL && ioctl(m, TIOCGPTN, &num) != 0)
    *what = "ioctl 'TIOCGPTN'", err = errno;
  else if ((*slave = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0)
    *what = "ioctl 'TIOCGPTPEER'", err = errno;
  if (err != 0) {
    close(m);
    return err;
  }
  *master = m;
  if (n != NULL)
    *n = num;
  return 0;
}

/* Send 'fd' over the unix socket 'sock' (SCM_RIGHTS) with the 'len' bytes
** of 'data' in the same message (len > 0): 0 or an errno.  A short send
** is EMSGSIZE: the reader takes the message and the fd in one recvmsg. */
int nslua_sendfd_msg (int sock, int fd, const char *data, size_t len) {
  struct iovec iov = { (void *)data, len };
  union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } u;
  struct msghdr msg;
  struct cmsghdr *c;
  ssize_t n;
  memset(&msg, 0, sizeof msg);
  memset(&u, 0, sizeof u);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = u.buf;
  msg.msg_controllen = sizeof u.buf;
  c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  n = TEMP_FAILURE_RETRY(sendmsg(sock, &msg, MSG_NOSIGNAL));
  if (n < 0)
    return errno;
  return (size_t)n == len ? 0 : EMSGSIZE;
}

/* Send 'fd' over the unix socket 'sock' (SCM_RIGHTS, one byte): 0 or an errno. */
int nslua_sendfd (int sock, int fd) {
  return nslua_sendfd_msg(sock, fd, "F", 1);
}

/* Receive one fd sent as nslua_sendfd does (close-on-exec): the fd, or
** -1 with errno (EPIPE: the peer closed, or sent no fd). */
int nslua_recvfd (int sock) {
  char byte;
  struct iovec iov = { &byte, 1 };
  union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } u;
  struct msghdr msg;
  struct cmsghdr *c;
  ssize_t n;
  int fd;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = u.buf;
  msg.msg_controllen = sizeof u.buf;
  n = TEMP_FAILURE_RETRY(recvmsg(sock, &msg, MSG_CMSG_CLOEXEC));
  if (n < 0)
    return -1;
  c = CMSG_FIRSTHDR(&msg);
  if (n == 0 || c == NULL || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
    errno = EPIPE;
    return -1;
  }
  memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return fd;
}

/* Write 'text' to an existing file in one write(2) (proc files such as
** uid_map take a map in a single write): 0 or an errno. */
int nslua_write_text (const char *path, const char *text) {
  size_t len = strlen(text);
  ssize_t w;
  int err = 0, fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return errno;
  w = write(fd, text, len);
  if (w < 0)
    err = errno;
  else if ((size_t)w != len)
    err = EIO;
  if (close(fd) != 0 && err == 0)
    err = errno;
  return err;
}
