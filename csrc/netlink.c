/* netlink.c - core.netlink over libmnl: sockets, requests, link changes, veth, bridges. */
/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nslua.h"

/* libmnl 1.0.5 names this MNL_SOCKET_DUMP_SIZE: the kernel may put up to
** 32 KiB of a dump in one datagram, more than MNL_SOCKET_BUFFER_SIZE. */
#define DUMP_SIZE 32768

/* ---------------------------------------------------------------- checks */

/*
** Interface names as the kernel's dev_valid_name() accepts them: 1..15
** bytes (IFNAMSIZ with its NUL), not "." or "..", no '/', ':' or
** whitespace.  Checked before any message is built.
*/
const char *nslua_nl_checkifname (lua_State *L, int arg, const char *name, size_t len) {
  size_t i;
  luaL_argcheck(L, len >= 1 && len < IFNAMSIZ, arg, "interface name must be 1..15 bytes");
  luaL_argcheck(L, strcmp(name, ".") != 0 && strcmp(name, "..") != 0, arg,
                "interface name must not be '.' or '..'");
  for (i = 0; i < len; i++)
    if (name[i] == '/' || name[i] == ':' || name[i] == '\0' ||
        isspace((unsigned char)name[i]))
      luaL_argerror(L, arg, "interface name must not contain '/', ':' or whitespace");
  return name;
}

static const char *check_ifname (lua_State *L, int arg) {
  size_t len;
  const char *name = luaL_checklstring(L, arg, &len);
  return nslua_nl_checkifname(L, arg, name, len);
}

/* A netns named as an fd box, an integer fd or {pid = n}. */
typedef struct netns_ref {
  int fd;       /* -1 when not given by fd */
  int pid;      /* 0 when not given by pid */
} netns_ref;

static int opt_netns (lua_State *L, int arg, netns_ref *ns) {
  ns->fd = -1;
  ns->pid = 0;
  if (lua_isnoneornil(L, arg))
    return 0;
  if (lua_type(L, arg) == LUA_TTABLE) {
    lua_Integer pid;
    int isnum;
    lua_getfield(L, arg, "pid");
    pid = lua_tointegerx(L, -1, &isnum);
    luaL_argcheck(L, isnum && pid > 0 && pid <= 0x7fffffff, arg,
                  "netns table needs a positive integer 'pid'");
    lua_pop(L, 1);
    ns->pid = (int)pid;
    return 1;
  }
  ns->fd = nslua_checkfd(L, arg);
  return 1;
}

/* ------------------------------------------------------------ sockets */

static nlsock *check_nlsock (lua_State *L, int arg) {
  nlsock *s = (nlsock *)luaL_checkudata(L, arg, NSLUA_NLSOCK);
  if (s->nl == NULL)
    luaL_argerror(L, arg, "attempt to use a closed netlink socket");
  return s;
}

/*
** Open and bind a NETLINK_ROUTE socket into 's' (already a Lua-owned box).
** Returns 0 or an errno.  NETLINK_EXT_ACK makes the kernel attach its
** error text to NACKs (iproute2 does the same); NETLINK_CAP_ACK keeps it
** from echoing our whole request back.  Both are best effort: kernels
** before 4.12 lack EXT_ACK and still work.
*/
int nslua_nl_open (nlsock *s) {
  return nslua_nl_open_proto(s, NETLINK_ROUTE);
}

/* The same for another netlink protocol (NETLINK_SOCK_DIAG: sockdiag.c). */
int nslua_nl_open_proto (nlsock *s, int proto) {
  int one = 1, fd;
  s->nl = mnl_socket_open2(proto, SOCK_CLOEXEC);
  if (s->nl == NULL)
    return errno;
  if (mnl_socket_bind(s->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
    int err = errno;
    mnl_socket_close(s->nl);
    s->nl = NULL;
    return err;
  }
  fd = mnl_socket_get_fd(s->nl);
  (void)setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  (void)setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  s->portid = mnl_socket_get_portid(s->nl);
  s->seq = (unsigned int)time(NULL);
  s->dirty = 0;
  return 0;
}

static nlsock *nlsock_new (lua_State *L) {
  nlsock *s = (nlsock *)lua_newuserdatauv(L, sizeof *s, 0);
  memset(s, 0, sizeof *s);
  luaL_setmetatable(L, NSLUA_NLSOCK);
  return s;
}

void nslua_nl_close (nlsock *s) {
  if (s->nl != NULL) {
    mnl_socket_close(s->nl);
    s->nl = NULL;
  }
}

/*
** Open a socket inside another netns: remember our own netns, setns to the
** target, inside(ud) when given (0: no socket is needed), socket(), setns back.  Everything in C, so
** no Lua code ever runs in the borrowed netns.  Returns 0 or an errno;
** '*step' names the step.
*/
static int nlsock_open_in (nlsock *s, int proto, const netns_ref *ns, const char **step,
                           char *path, size_t pathsz, nslua_nl_inside inside, void *ud) {
  int self, target = ns->fd, err = 0;
  *step = "open";
  snprintf(path, pathsz, "/proc/self/ns/net");
  self = open(path, O_RDONLY | O_CLOEXEC);
  if (self < 0)
    return errno;
  snprintf(path, pathsz, "netns");
  if (ns->pid > 0) {
    snprintf(path, pathsz, "/proc/%d/ns/net", ns->pid);
    target = open(path, O_RDONLY | O_CLOEXEC);
    if (target < 0) {
      err = errno;
      close(self);
      return err;
    }
  }
  *step = "setns";
  if (setns(target, CLONE_NEWNET) != 0) {
    err = errno;
  } else {
    *step = "netlink socket";
    if (inside == NULL || inside(ud))
      err = nslua_nl_open_proto(s, proto);
    /* Going back cannot be skipped: failing it leaves the caller in the
    ** wrong netns, which is worse than any socket error. */
    if (setns(self, CLONE_NEWNET) != 0) {
      err = errno;
      *step = "setns back";
      nslua_nl_close(s);
    }
  }
  if (ns->pid > 0)
    close(target);
  close(self);
  return err;
}

/*
** A new socket box of netlink protocol 'proto' pushed on the stack, opened
** in the netns named at 'arg' (fd box, integer fd or {pid = n}; nil: ours);
** inside(ud), when given, runs in that netns first: when it returns 0 no
** socket is made and the box stays closed.  Returns the box, or NULL with
** the failure triple pushed instead.
*/
nlsock *nslua_nl_open_at (lua_State *L, int arg, int proto, nslua_nl_inside inside, void *ud) {
  netns_ref ns;
  int given = opt_netns(L, arg, &ns), err = 0;
  const char *step = "netlink socket";
  char path[64];
  nlsock *s = nlsock_new(L);
  if (given) {
    err = nlsock_open_in(s, proto, &ns, &step, path, sizeof path, inside, ud);
  } else if (inside == NULL || inside(ud)) {
    err = nslua_nl_open_proto(s, proto);
  }
  if (err != 0) {
    lua_pop(L, 1);
    nslua_fail(L, err, step, given ? path : NULL);
    return NULL;
  }
  return s;
}

/* netlink.socket([netns]) -> socket box | nil, msg, errno
** netns: fd box, integer fd or {pid = n}; the socket then acts in that netns. */
static int netlink_socket (lua_State *L) {
  lua_settop(L, 1);
  return nslua_nl_open_at(L, 1, NETLINK_ROUTE, NULL, NULL) != NULL ? 1 : 3;
}

/* sock:close() -> true */
static int nlsock_close (lua_State *L) {
  nlsock *s = check_nlsock(L, 1);
  nslua_nl_close(s);
  return nslua_ok(L);
}

/* sock:closed() -> boolean */
static int nlsock_closed (lua_State *L) {
  nlsock *s = (nlsock *)luaL_checkudata(L, 1, NSLUA_NLSOCK);
  lua_pushboolean(L, s->nl == NULL);
  return 1;
}

static int nlsock_gc (lua_State *L) {
  nslua_nl_close((nlsock *)luaL_checkudata(L, 1, NSLUA_NLSOCK));
  return 0;
}

static int nlsock_tostring (lua_State *L) {
  nlsock *s = (nlsock *)luaL_checkudata(L, 1, NSLUA_NLSOCK);
  if (s->nl == NULL)
    lua_pushliteral(L, "nslua.nlsock (closed)");
  else
    lua_pushfstring(L, "nslua.nlsock (portid %d)", (int)s->portid);
  return 1;
}

/*
** The socket for one call: the box at 'arg' when given, else a temporary
** box pushed on the stack (GC-owned, so a raise cannot leak it).  '*tmp'
** is set for the temporary, which the caller closes with nslua_nl_close.
** Returns NULL with the failure triple pushed when opening fails.
*/
nlsock *nslua_nl_sock (lua_State *L, int arg, int *tmp, int *err) {
  /* Callers lua_settop() to their full argument count first, so values they
  ** push while checking options never sit where the socket argument is read. */
  nlsock *s;
  *err = 0;
  if (!lua_isnoneornil(L, arg)) {
    *tmp = 0;
    return check_nlsock(L, arg);
  }
  *tmp = 1;
  s = nlsock_new(L);
  *err = nslua_nl_open(s);
  if (*err != 0)
    return NULL;
  return s;
}

/* -------------------------------------------------------------- talking */

static int ext_attr_cb (const struct nlattr *attr, void *data) {
  nltalk *t = (nltalk *)data;
  if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
      mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0) {
    snprintf(t->ext, sizeof t->ext, "%s", mnl_attr_get_str(attr));
  }
  return MNL_CB_OK;
}

/*
** NLMSG_ERROR: libmnl's own handler plus the extended ACK.  The TLVs
** follow struct nlmsgerr, after the echoed request unless NLM_F_CAPPED
** (the layout iproute2's nl_dump_ext_ack reads).
*/
static int cb_error (const struct nlmsghdr *nlh, void *data) {
  const struct nlmsgerr *e = (const struct nlmsgerr *)mnl_nlmsg_get_payload(nlh);
  nltalk *t = (nltalk *)data;
  if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof *e)) {
    errno = EBADMSG;
    return MNL_CB_ERROR;
  }
  if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
    unsigned int off = sizeof *e;
    if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
      off += (unsigned int)mnl_nlmsg_get_payload_len(&e->msg);
    if (mnl_nlmsg_size(off) <= nlh->nlmsg_len && e->error != 0)
      (void)mnl_attr_parse(nlh, off, ext_attr_cb, t);
  }
  if (e->error == 0)
    return MNL_CB_STOP;
  errno = e->error < 0 ? -e->error : e->error;
  return MNL_CB_ERROR;
}

/* NLMSG_DONE ends a dump; since 4.x it carries the dump's own error. */
static int cb_done (const struct nlmsghdr *nlh, void *data) {
  if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(int)) {
    int e = *(const int *)mnl_nlmsg_get_payload(nlh);
    if (e < 0) {
      errno = -e;
      return MNL_CB_ERROR;
    }
  }
  return MNL_CB_STOP;
}

static int cb_noop (const struct nlmsghdr *nlh, void *data) {
  return MNL_CB_OK;
}

static int cb_overrun (const struct nlmsghdr *nlh, void *data) {
  errno = ENOSPC;
  return MNL_CB_ERROR;
}

static mnl_cb_t ctl_cbs[NLMSG_MIN_TYPE] = {
  [NLMSG_NOOP] = cb_noop,
  [NLMSG_ERROR] = cb_error,
  [NLMSG_DONE] = cb_done,
  [NLMSG_OVERRUN] = cb_overrun,
};

/* Throw away replies left over by an interrupted request. */
static void drain (nlsock *s) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  int fd = mnl_socket_get_fd(s->nl);
  while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
    ;
  s->dirty = 0;
}

/*
** Send one request with NLM_F_ACK and a fresh sequence number, then run
** every reply through 'cb' until the ACK (or NLMSG_DONE for a dump).
** mnl_cb_run2 drops nothing silently: a foreign sequence number is EPROTO.
** Returns 0 or an errno; t->ext holds the kernel's extended-ACK text.
*/
int nslua_nl_talk (nlsock *s, struct nlmsghdr *nlh, mnl_cb_t cb, nltalk *t) {
  char buf[DUMP_SIZE];
  unsigned int seq;
  int ret;
  t->ext[0] = '\0';
  if (s->dirty)
    drain(s);
  s->dirty = 1;
  nlh->nlmsg_flags |= NLM_F_ACK;
  nlh->nlmsg_seq = seq = ++s->seq;
  if (mnl_socket_sendto(s->nl, nlh, nlh->nlmsg_len) < 0)
    return errno;
  do {
    ssize_t n = mnl_socket_recvfrom(s->nl, buf, sizeof buf);
    if (n < 0)
      return errno;
    ret = mnl_cb_run2(buf, (size_t)n, seq, s->portid, cb, t, ctl_cbs, NLMSG_MIN_TYPE);
  } while (ret > MNL_CB_STOP);
  if (ret < 0)
    return errno;
  s->dirty = 0;
  return 0;
}

/* nil, "what 'subject': strerror (ext ack)", err */
int nslua_nl_fail (lua_State *L, int err, const char *what, const char *subject,
                   const nltalk *t) {
  nslua_fail(L, err, what, subject);
  if (t != NULL && t->ext[0] != '\0') {
    lua_pushfstring(L, "%s (%s)", lua_tostring(L, -2), t->ext);
    lua_replace(L, -3);
  }
  return 3;
}

struct nlmsghdr *nslua_nl_linkhdr (char *buf, int type, unsigned int flags, int index) {
  struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
  struct ifinfomsg *ifm;
  nlh->nlmsg_type = (unsigned short)type;
  nlh->nlmsg_flags = NLM_F_REQUEST | flags;
  ifm = (struct ifinfomsg *)mnl_nlmsg_put_extra_header(nlh, sizeof *ifm);
  ifm->ifi_family = AF_UNSPEC;
  ifm->ifi_index = index;
  return nlh;
}

/* -------------------------------------------------------------- links */

/* Put IFLA_NET_NS_FD or IFLA_NET_NS_PID for a netns reference. */
static void put_netns (struct nlmsghdr *nlh, const netns_ref *ns) {
  if (ns->pid > 0)
    mnl_attr_put_u32(nlh, IFLA_NET_NS_PID, (uint32_t)ns->pid);
  else if (ns->fd >= 0)
    mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)ns->fd);
}

/*
** netlink.veth(name, peer, peer_netns [, sock]) -> true | nil, msg, errno
** One RTM_NEWLINK: the peer's own ifinfomsg carries IFLA_NET_NS_FD/PID,
** so the peer is born in the target netns (its name is checked there) and
** never exists in ours.  peer_netns: fd box, integer fd, {pid = n} or nil.
*/
static int netlink_veth (lua_State *L) {
  lua_settop(L, 4);
  const char *name = check_ifname(L, 1);
  const char *peer = check_ifname(L, 2);
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct nlmsghdr *nlh;
  struct ifinfomsg *ifm;
  struct nlattr *linkinfo, *data, *peerinfo;
  netns_ref ns;
  int tmp, err;
  nlsock *s;
  nltalk t;

  opt_netns(L, 3, &ns);
  s = nslua_nl_sock(L, 4, &tmp, &err);
  if (s == NULL)
    return nslua_fail(L, err, "netlink socket", NULL);
  nlh = nslua_nl_linkhdr(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0);
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
  linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
  mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
  data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
  peerinfo = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
  /* the peer payload starts with its own ifinfomsg, then its attributes */
  ifm = (struct ifinfomsg *)mnl_nlmsg_put_extra_header(nlh, sizeof *ifm);
  ifm->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(nlh, IFLA_IFNAME, peer);
  put_netns(nlh, &ns);
  mnl_attr_nest_end(nlh, peerinfo);
  mnl_attr_nest_end(nlh, data);
  mnl_attr_nest_end(nlh, linkinfo);
  err = nslua_nl_talk(s, nlh, NULL, &t);
  if (tmp)
    nslua_nl_close(s);
  if (err != 0)
    return nslua_nl_fail(L, err, "veth", name, &t);
  return nslua_ok(L);
}

/*
** One RTM_NEWLINK or RTM_DELLINK request naming the link at argument 1, with
** an optional IFLA_INFO_KIND; the socket box (or none) is at argument 2.
*/
static int link_request (lua_State *L, uint16_t type, uint16_t flags,
                         const char *kind, const char *what) {
  const char *name;
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct nlmsghdr *nlh;
  int tmp, err;
  nlsock *s;
  nltalk t;
  lua_settop(L, 2);
  name = check_ifname(L, 1);
  s = nslua_nl_sock(L, 2, &tmp, &err);
  if (s == NULL)
    return nslua_fail(L, err, "netlink socket", NULL);
  nlh = nslua_nl_linkhdr(buf, type, flags, 0);
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
  if (kind != NULL) {
    struct nlattr *linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
    mnl_attr_put_strz(nlh, IFLA_INFO_KIND, kind);
    mnl_attr_nest_end(nlh, linkinfo);
  }
  err = nslua_nl_talk(s, nlh, NULL, &t);
  if (tmp)
    nslua_nl_close(s);
  if (err != 0)
    return nslua_nl_fail(L, err, what, name, &t);
  return nslua_ok(L);
}

/* netlink.bridge(name [, sock]) -> true | nil, msg, errno */
static int netlink_bridge (lua_State *L) {
  return link_request(L, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, "bridge", "bridge");
}

/* netlink.link_del(name [, sock]) -> true | nil, msg, errno (ENODEV) */
static int netlink_link_del (lua_State *L) {
  return link_request(L, RTM_DELLINK, 0, NULL, "link_del");
}

static int parse_mac (const char *s, unsigned char mac[6]) {
  unsigned int b[6];
  char end;
  int i;
  if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4],
             &b[5], &end) != 6 || strlen(s) != 17)
    return 0;
  for (i = 0; i < 6; i++)
    mac[i] = (unsigned char)b[i];
  return 1;
}

/*
** The table at 'arg' may hold only the names in 'keys' (sorted, NULL-ended):
** anything else raises "unknown <noun> 'x' (valid: a b c)".
*/
void nslua_nl_checkkeys (lua_State *L, int arg, const char *const *keys, const char *noun) {
  luaL_checktype(L, arg, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, arg) != 0) {
    const char *const *k;
    const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
    for (k = keys; key != NULL && *k != NULL && strcmp(*k, key) != 0; k++)
      ;
    if (key == NULL || *k == NULL) {
      luaL_Buffer b;
      luaL_buffinit(L, &b);
      lua_pushfstring(L, "unknown %s '%s' (valid:", noun, key ? key : luaL_typename(L, -2));
      luaL_addvalue(&b);
      for (k = keys; *k != NULL; k++) {
        luaL_addchar(&b, ' ');
        luaL_addstring(&b, *k);
      }
      luaL_addchar(&b, ')');
      luaL_pushresult(&b);
      luaL_argerror(L, arg, lua_tostring(L, -1));
    }
    lua_pop(L, 1);
  }
}

/* What link_set changes in link 'index'; put_link_change builds the request. */
typedef struct link_change {
  int index;
  const char *name;             /* IFLA_IFNAME, the new name: NULL keeps it */
  const char *alias;            /* "" removes it; NULL keeps it */
  int has_up, up, has_mtu, has_mac, has_master;
  uint32_t mtu, master;         /* master 0 detaches */
  unsigned char mac[6];
  netns_ref ns;
} link_change;

/* One RTM_NEWLINK of 'lc', in 'buf'. */
static struct nlmsghdr *put_link_change (char *buf, const link_change *lc) {
  struct nlmsghdr *nlh = nslua_nl_linkhdr(buf, RTM_NEWLINK, 0, lc->index);
  struct ifinfomsg *ifm = (struct ifinfomsg *)mnl_nlmsg_get_payload(nlh);
  if (lc->has_up) {
    ifm->ifi_change = IFF_UP;
    ifm->ifi_flags = lc->up ? IFF_UP : 0;
  }
  if (lc->name != NULL)
    mnl_attr_put_strz(nlh, IFLA_IFNAME, lc->name);
  if (lc->has_mtu)
    mnl_attr_put_u32(nlh, IFLA_MTU, lc->mtu);
  if (lc->has_mac)
    mnl_attr_put(nlh, IFLA_ADDRESS, 6, lc->mac);
  if (lc->has_master)
    mnl_attr_put_u32(nlh, IFLA_MASTER, lc->master);
  if (lc->alias != NULL)
    mnl_attr_put_str(nlh, IFLA_IFALIAS, lc->alias);
  put_netns(nlh, &lc->ns);
  return nlh;
}

static const char *const link_set_keys[] = {
  "alias", "mac", "master", "mtu", "name", "netns", "up", NULL
};

/*
** netlink.link_set(name, {up, mtu, name, mac, master, netns, alias} [, sock])
**   -> true | nil, msg, errno
** master: a name, an ifindex, or false to detach.  netns: fd box, integer
** fd or {pid = n}.  alias "" removes the alias.  All options are checked
** before anything is sent; names are resolved in the socket's netns.
*/
static int netlink_link_set (lua_State *L) {
  lua_settop(L, 3);
  const char *name = check_ifname(L, 1);
  const char *master_name = NULL;
  int tmp, err;
  char buf[MNL_SOCKET_BUFFER_SIZE];
  link_change lc;
  nlsock *s;
  nltalk t;

  memset(&lc, 0, sizeof lc);
  lc.ns.fd = -1;
  nslua_nl_checkkeys(L, 2, link_set_keys, "option");
  lua_getfield(L, 2, "up");
  if (!lua_isnil(L, -1)) {
    luaL_argcheck(L, lua_isboolean(L, -1), 2, "option 'up' must be a boolean");
    lc.has_up = 1;
    lc.up = lua_toboolean(L, -1);
  }
  lua_getfield(L, 2, "mtu");
  if (!lua_isnil(L, -1)) {
    int isnum;
    lua_Integer mtu = lua_tointegerx(L, -1, &isnum);
    luaL_argcheck(L, isnum && mtu > 0 && mtu <= 0xffffff, 2,
                  "option 'mtu' must be a positive integer");
    lc.has_mtu = 1;
    lc.mtu = (uint32_t)mtu;
  }
  lua_getfield(L, 2, "name");
  if (!lua_isnil(L, -1)) {
    size_t len;
    luaL_argcheck(L, lua_type(L, -1) == LUA_TSTRING, 2, "option 'name' must be a string");
    lc.name = lua_tolstring(L, -1, &len);
    nslua_nl_checkifname(L, 2, lc.name, len);
  }
  lua_getfield(L, 2, "mac");
  if (!lua_isnil(L, -1)) {
    const char *m = lua_tostring(L, -1);
    luaL_argcheck(L, lua_type(L, -1) == LUA_TSTRING && parse_mac(m, lc.mac), 2,
                  "option 'mac' must look like 'aa:bb:cc:dd:ee:ff'");
    lc.has_mac = 1;
  }
  lua_getfield(L, 2, "master");
  if (!lua_isnil(L, -1)) {
    lc.has_master = 1;
    if (lua_isboolean(L, -1)) {
      luaL_argcheck(L, !lua_toboolean(L, -1), 2,
                    "option 'master' must be a name, an index or false");
    } else if (lua_type(L, -1) == LUA_TNUMBER) {
      int isnum;
      lua_Integer master = lua_tointegerx(L, -1, &isnum);
      luaL_argcheck(L, isnum && master > 0 && master <= 0x7fffffff, 2,
                    "option 'master' index out of range");
      lc.master = (uint32_t)master;
    } else {
      size_t len;
      luaL_argcheck(L, lua_type(L, -1) == LUA_TSTRING, 2,
                    "option 'master' must be a name, an index or false");
      master_name = lua_tolstring(L, -1, &len);
      nslua_nl_checkifname(L, 2, master_name, len);
    }
  }
  lua_getfield(L, 2, "alias");
  if (!lua_isnil(L, -1)) {
    size_t len;
    luaL_argcheck(L, lua_type(L, -1) == LUA_TSTRING, 2, "option 'alias' must be a string");
    lc.alias = lua_tolstring(L, -1, &len);
    luaL_argcheck(L, len < IFALIASZ, 2, "option 'alias' must be shorter than 256 bytes");
  }
  lua_getfield(L, 2, "netns");
  if (!lua_isnil(L, -1))
    opt_netns(L, lua_gettop(L), &lc.ns);

  s = nslua_nl_sock(L, 3, &tmp, &err);
  if (s == NULL)
    return nslua_fail(L, err, "netlink socket", NULL);
  err = nslua_nl_ifindex(s, name, &lc.index, &t);
  if (err == 0 && master_name != NULL) {
    int mi;
    err = nslua_nl_ifindex(s, master_name, &mi, &t);
    lc.master = (uint32_t)mi;
    if (err != 0) {
      if (tmp)
        nslua_nl_close(s);
      return nslua_nl_fail(L, err, "link_set master", master_name, &t);
    }
  }
  if (err == 0)
    err = nslua_nl_talk(s, put_link_change(buf, &lc), NULL, &t);
  if (tmp)
    nslua_nl_close(s);
  if (err != 0)
    return nslua_nl_fail(L, err, "link_set", name, &t);
  return nslua_ok(L);
}

/* ---------------------------------------------- without Lua (nslua.h) */

static int index_cb (const struct nlmsghdr *nlh, void *data) {
  nldump *d = (nldump *)((nltalk *)data)->user;
  if (nlh->nlmsg_type == RTM_NEWLINK)
    d->index = ((const struct ifinfomsg *)mnl_nlmsg_get_payload(nlh))->ifi_index;
  return MNL_CB_OK;
}

/* name -> ifindex through 's' (the socket's netns, not the caller's).  The
** name is only measured here: the Lua callers have checked it, and the
** kernel answers ENODEV for any other name it does not know. */
int nslua_nl_ifindex (nlsock *s, const char *name, int *index, nltalk *t) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct nlmsghdr *nlh;
  nldump d;
  int err;
  *index = 0;
  t->ext[0] = '\0';
  if (name == NULL || name[0] == '\0' || strlen(name) >= IFNAMSIZ)
    return EINVAL;
  nlh = nslua_nl_linkhdr(buf, RTM_GETLINK, 0, 0);
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
  d.index = 0;
  t->user = &d;
  err = nslua_nl_talk(s, nlh, index_cb, t);
  t->user = NULL;
  if (err == 0 && d.index == 0)
    err = ENODEV;
  *index = d.index;
  return err;
}

/* netlink.link_set(ifname, {up = true}) on a socket of its own (nslua.h). */
int nslua_nl_link_up (const char *ifname, const char **what) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  link_change lc;
  nlsock s;
  nltalk t;
  int err;
  memset(&lc, 0, sizeof lc);
  lc.ns.fd = -1;
  lc.has_up = lc.up = 1;
  *what = "netlink socket";
  if ((err = nslua_nl_open(&s)) != 0)
    return err;
  /* one request: RTM_NEWLINK with index 0 finds the link by IFLA_IFNAME
  ** (rtnl_setlink), so the executor's lo needs no RTM_GETLINK first */
  *what = "RTM_GETLINK";
  if (ifname == NULL || ifname[0] == '\0' || strlen(ifname) >= IFNAMSIZ) {
    nslua_nl_close(&s);
    return EINVAL;
  }
  lc.name = ifname;
  *what = "RTM_NEWLINK";
  err = nslua_nl_talk(&s, put_link_change(buf, &lc), NULL, &t);
  nslua_nl_close(&s);
  return err;
}

/* --------------------------------------------------------------- lock */

/*
** netlink.lockfile(path) -> fd box | nil, msg, errno
** An exclusive flock on 'path' (created 0644; its directory created 0755
** when missing), held until the box is closed or collected.  net.lua
** serializes bridge reference counting with it.
*/
static int netlink_lockfile (lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  const char *slash = strrchr(path, '/');
  int *box, err;
  luaL_argcheck(L, slash != NULL && slash[1] != '\0', 1,
                "lock path must name a file in a directory");
  if (slash != path) {
    const char *dir = lua_pushlstring(L, path, (size_t)(slash - path));
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
      return nslua_fail(L, errno, "mkdir", dir);
  }
  box = nslua_newfd(L);
  *box = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (*box < 0)
    return nslua_fail(L, errno, "open", path);
  while (flock(*box, LOCK_EX) != 0) {
    if (errno != EINTR) {
      err = errno;
      close(*box);
      *box = -1;
      return nslua_fail(L, err, "flock", path);
    }
  }
  return 1;
}

static const luaL_Reg netlink_funcs[] = {
  {"bridge", netlink_bridge},
  {"link_del", netlink_link_del},
  {"link_set", netlink_link_set},
  {"lockfile", netlink_lockfile},
  {"socket", netlink_socket},
  {"veth", netlink_veth},
  {NULL, NULL}
};

static const luaL_Reg nlsock_methods[] = {
  {"close", nlsock_close},
  {"closed", nlsock_closed},
  {NULL, NULL}
};

static const luaL_Reg nlsock_meta[] = {
  {"__close", nlsock_gc},
  {"__gc", nlsock_gc},
  {"__tostring", nlsock_tostring},
  {"__index", NULL},
  {NULL, NULL}
};

int nslua_open_netlink (lua_State *L) {
  if (luaL_newmetatable(L, NSLUA_NLSOCK)) {
    luaL_setfuncs(L, nlsock_meta, 0);
    luaL_newlib(L, nlsock_methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  luaL_newlib(L, netlink_funcs);
  luaL_setfuncs(L, nslua_netlink_route_funcs, 0);
  luaL_setfuncs(L, nslua_netlink_diag_funcs, 0);
  return 1;
}
