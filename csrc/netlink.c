/* netlink.c - rtnetlink over libmnl: sockets, links, veth, bridges, addresses, routes. */
/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if_arp.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nslua.h"

#define NLSOCK "nslua.nlsock"

/* libmnl 1.0.5 names this MNL_SOCKET_DUMP_SIZE: the kernel may put up to
** 32 KiB of a dump in one datagram, more than MNL_SOCKET_BUFFER_SIZE. */
#define DUMP_SIZE 32768

/*
** A socket box.  Every binding takes one as its optional last argument so
** a batch shares one socket (and one netns: a netlink socket acts in the
** netns it was created in, whatever the caller joins later).  'dirty' is
** set while a request is in flight: a Lua error raised from a dump
** callback (out of memory) may leave replies queued, and the next request
** drains them instead of tripping over a foreign sequence number.
*/
typedef struct nlsock {
  struct mnl_socket *nl;
  unsigned int portid;
  unsigned int seq;
  int dirty;
} nlsock;

/* One request in flight: the kernel's extended-ACK text and the caller's data. */
typedef struct talk {
  char ext[256];
  void *user;
} talk;

/* ---------------------------------------------------------------- checks */

/*
** Interface names as the kernel's dev_valid_name() accepts them: 1..15
** bytes (IFNAMSIZ with its NUL), not "." or "..", no '/', ':' or
** whitespace.  Checked before any message is built.
*/
static const char *check_ifname_str (lua_State *L, int arg, const char *name, size_t len) {
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
  return check_ifname_str(L, arg, name, len);
}

typedef struct cidr {
  int family;                 /* AF_INET or AF_INET6 */
  unsigned char addr[16];
  int prefix;                 /* -1: none given */
} cidr;

/*
** "10.0.0.1/24" or "fd00::1/64" into 'c'.  A bad address, a prefix out of
** range, or a missing prefix when 'need_prefix' is set raise naming the
** argument ('what' is how the message calls the value).
*/
static void parse_cidr (lua_State *L, int arg, const char *s, int need_prefix,
                        const char *what, cidr *c) {
  char host[INET6_ADDRSTRLEN + 1];
  const char *slash = strchr(s, '/');
  size_t hl = slash ? (size_t)(slash - s) : strlen(s);
  int max;
  if (hl == 0 || hl >= sizeof host)
    luaL_argerror(L, arg, lua_pushfstring(L, "invalid %s '%s'", what, s));
  memcpy(host, s, hl);
  host[hl] = '\0';
  if (inet_pton(AF_INET, host, c->addr) == 1)
    c->family = AF_INET;
  else if (inet_pton(AF_INET6, host, c->addr) == 1)
    c->family = AF_INET6;
  else
    luaL_argerror(L, arg, lua_pushfstring(L, "invalid %s '%s'", what, s));
  max = c->family == AF_INET ? 32 : 128;
  c->prefix = -1;
  if (slash != NULL) {
    const char *p = slash + 1;
    int v = 0;
    if (*p == '\0' || strlen(p) > 3)
      luaL_argerror(L, arg, lua_pushfstring(L, "invalid prefix in %s '%s'", what, s));
    for (; *p; p++) {
      if (!isdigit((unsigned char)*p))
        luaL_argerror(L, arg, lua_pushfstring(L, "invalid prefix in %s '%s'", what, s));
      v = v * 10 + (*p - '0');
    }
    if (v > max)
      luaL_argerror(L, arg, lua_pushfstring(L, "prefix %d out of range 0..%d in %s '%s'",
                                            v, max, what, s));
    c->prefix = v;
  } else if (need_prefix) {
    luaL_argerror(L, arg, lua_pushfstring(L, "%s '%s' needs a /prefix", what, s));
  }
}

static size_t addr_len (int family) {
  return family == AF_INET ? 4 : 16;
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
  nlsock *s = (nlsock *)luaL_checkudata(L, arg, NLSOCK);
  if (s->nl == NULL)
    luaL_argerror(L, arg, "attempt to use a closed netlink socket");
  return s;
}

static int is_nlsock (lua_State *L, int arg) {
  return luaL_testudata(L, arg, NLSOCK) != NULL;
}

/*
** Open and bind a NETLINK_ROUTE socket into 's' (already a Lua-owned box).
** Returns 0 or an errno.  NETLINK_EXT_ACK makes the kernel attach its
** error text to NACKs (iproute2 does the same); NETLINK_CAP_ACK keeps it
** from echoing our whole request back.  Both are best effort: kernels
** before 4.12 lack EXT_ACK and still work.
*/
static int nlsock_open (nlsock *s) {
  int one = 1, fd;
  s->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
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
  luaL_setmetatable(L, NLSOCK);
  return s;
}

static void nlsock_release (nlsock *s) {
  if (s->nl != NULL) {
    mnl_socket_close(s->nl);
    s->nl = NULL;
  }
}

/*
** Open a socket inside another netns: remember our own netns, setns to the
** target, socket(), setns back.  Everything in C, so no Lua code ever runs
** in the borrowed netns.  Returns 0 or an errno; '*step' names the step.
*/
static int nlsock_open_in (nlsock *s, const netns_ref *ns, const char **step,
                           char *path, size_t pathsz) {
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
    err = nlsock_open(s);
    /* Going back cannot be skipped: failing it leaves the caller in the
    ** wrong netns, which is worse than any socket error. */
    if (setns(self, CLONE_NEWNET) != 0) {
      err = errno;
      *step = "setns back";
      nlsock_release(s);
    }
  }
  if (ns->pid > 0)
    close(target);
  close(self);
  return err;
}

/* netlink.socket([netns]) -> socket box | nil, msg, errno
** netns: fd box, integer fd or {pid = n}; the socket then acts in that netns. */
static int netlink_socket (lua_State *L) {
  netns_ref ns;
  int given = opt_netns(L, 1, &ns), err;
  const char *step = "netlink socket";
  char path[64];
  nlsock *s = nlsock_new(L);
  if (given)
    err = nlsock_open_in(s, &ns, &step, path, sizeof path);
  else
    err = nlsock_open(s);
  if (err != 0)
    return nslua_fail(L, err, step, given ? path : NULL);
  return 1;
}

/* sock:close() -> true */
static int nlsock_close (lua_State *L) {
  nlsock *s = check_nlsock(L, 1);
  nlsock_release(s);
  return nslua_ok(L);
}

/* sock:closed() -> boolean */
static int nlsock_closed (lua_State *L) {
  nlsock *s = (nlsock *)luaL_checkudata(L, 1, NLSOCK);
  lua_pushboolean(L, s->nl == NULL);
  return 1;
}

static int nlsock_gc (lua_State *L) {
  nlsock_release((nlsock *)luaL_checkudata(L, 1, NLSOCK));
  return 0;
}

static int nlsock_tostring (lua_State *L) {
  nlsock *s = (nlsock *)luaL_checkudata(L, 1, NLSOCK);
  if (s->nl == NULL)
    lua_pushliteral(L, "nslua.nlsock (closed)");
  else
    lua_pushfstring(L, "nslua.nlsock (portid %d)", (int)s->portid);
  return 1;
}

/*
** The socket for one call: the box at 'arg' when given, else a temporary
** box pushed on the stack (GC-owned, so a raise cannot leak it).  '*tmp'
** is set for the temporary, which the caller closes with done_sock.
** Returns NULL with the failure triple pushed when opening fails.
*/
static nlsock *get_sock (lua_State *L, int arg, int *tmp, int *err) {
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
  *err = nlsock_open(s);
  if (*err != 0)
    return NULL;
  return s;
}

static void done_sock (nlsock *s, int tmp) {
  if (tmp && s != NULL)
    nlsock_release(s);
}

/* -------------------------------------------------------------- talking */

static int ext_attr_cb (const struct nlattr *attr, void *data) {
  talk *t = (talk *)data;
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
  talk *t = (talk *)data;
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
static int nl_talk (nlsock *s, struct nlmsghdr *nlh, mnl_cb_t cb, talk *t) {
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
static int fail_ext (lua_State *L, int err, const char *what, const char *subject,
                     const talk *t) {
  nslua_fail(L, err, what, subject);
  if (t != NULL && t->ext[0] != '\0') {
    lua_pushfstring(L, "%s (%s)", lua_tostring(L, -2), t->ext);
    lua_replace(L, -3);
  }
  return 3;
}

static struct nlmsghdr *put_link_hdr (char *buf, int type, unsigned int flags,
                                      int index) {
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

static const nslua_flag iff_names[] = {
  {"up", IFF_UP}, {"broadcast", IFF_BROADCAST}, {"debug", IFF_DEBUG},
  {"loopback", IFF_LOOPBACK}, {"pointopoint", IFF_POINTOPOINT},
  {"notrailers", IFF_NOTRAILERS}, {"running", IFF_RUNNING}, {"noarp", IFF_NOARP},
  {"promisc", IFF_PROMISC}, {"allmulti", IFF_ALLMULTI}, {"master", IFF_MASTER},
  {"slave", IFF_SLAVE}, {"multicast", IFF_MULTICAST}, {"portsel", IFF_PORTSEL},
  {"automedia", IFF_AUTOMEDIA}, {"dynamic", IFF_DYNAMIC},
  {"lower_up", IFF_LOWER_UP}, {"dormant", IFF_DORMANT}, {"echo", IFF_ECHO},
  {NULL, 0}
};

typedef struct link_info {
  const struct nlattr *tb[IFLA_MAX + 1];
  const char *kind;
} link_info;

static int link_attr_cb (const struct nlattr *attr, void *data) {
  link_info *li = (link_info *)data;
  int type = mnl_attr_get_type(attr);
  if (mnl_attr_type_valid(attr, IFLA_MAX) < 0)
    return MNL_CB_OK;
  switch (type) {
    case IFLA_IFNAME: case IFLA_IFALIAS:
      if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) < 0)
        return MNL_CB_OK;
      break;
    case IFLA_MTU: case IFLA_MASTER: case IFLA_LINK: case IFLA_LINK_NETNSID:
      if (mnl_attr_validate(attr, MNL_TYPE_U32) < 0)
        return MNL_CB_OK;
      break;
    default:
      break;
  }
  li->tb[type] = attr;
  return MNL_CB_OK;
}

static int linkinfo_attr_cb (const struct nlattr *attr, void *data) {
  link_info *li = (link_info *)data;
  if (mnl_attr_get_type(attr) == IFLA_INFO_KIND &&
      mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0)
    li->kind = mnl_attr_get_str(attr);
  return MNL_CB_OK;
}

/* Push one link table for an RTM_NEWLINK message. */
static void push_link (lua_State *L, const struct nlmsghdr *nlh) {
  const struct ifinfomsg *ifm = (const struct ifinfomsg *)mnl_nlmsg_get_payload(nlh);
  link_info li;
  const nslua_flag *f;
  memset(&li, 0, sizeof li);
  mnl_attr_parse(nlh, sizeof *ifm, link_attr_cb, &li);
  if (li.tb[IFLA_LINKINFO] != NULL)
    mnl_attr_parse_nested(li.tb[IFLA_LINKINFO], linkinfo_attr_cb, &li);
  lua_createtable(L, 0, 12);
  if (li.tb[IFLA_IFNAME] != NULL) {
    lua_pushstring(L, mnl_attr_get_str(li.tb[IFLA_IFNAME]));
    lua_setfield(L, -2, "name");
  }
  lua_pushinteger(L, ifm->ifi_index);
  lua_setfield(L, -2, "index");
  if (li.kind != NULL) {
    lua_pushstring(L, li.kind);
    lua_setfield(L, -2, "kind");
  }
  lua_pushboolean(L, (ifm->ifi_flags & IFF_UP) != 0);
  lua_setfield(L, -2, "up");
  lua_pushboolean(L, (ifm->ifi_flags & IFF_RUNNING) != 0);
  lua_setfield(L, -2, "running");
  lua_newtable(L);
  for (f = iff_names; f->name != NULL; f++) {
    if (ifm->ifi_flags & f->bits) {
      lua_pushboolean(L, 1);
      lua_setfield(L, -2, f->name);
    }
  }
  lua_setfield(L, -2, "flags");
  if (li.tb[IFLA_MTU] != NULL) {
    lua_pushinteger(L, mnl_attr_get_u32(li.tb[IFLA_MTU]));
    lua_setfield(L, -2, "mtu");
  }
  if (li.tb[IFLA_ADDRESS] != NULL) {
    const unsigned char *a = (const unsigned char *)mnl_attr_get_payload(li.tb[IFLA_ADDRESS]);
    uint16_t n = mnl_attr_get_payload_len(li.tb[IFLA_ADDRESS]), i;
    char mac[3 * 32];
    if (n > 0 && n <= 32) {
      for (i = 0; i < n; i++)
        snprintf(mac + 3 * i, 4, i + 1 < n ? "%02x:" : "%02x", a[i]);
      lua_pushstring(L, mac);
      lua_setfield(L, -2, "mac");
    }
  }
  if (li.tb[IFLA_MASTER] != NULL) {
    lua_pushinteger(L, mnl_attr_get_u32(li.tb[IFLA_MASTER]));
    lua_setfield(L, -2, "master");
  }
  if (li.tb[IFLA_LINK] != NULL) {
    lua_pushinteger(L, mnl_attr_get_u32(li.tb[IFLA_LINK]));
    lua_setfield(L, -2, "link");
  }
  if (li.tb[IFLA_LINK_NETNSID] != NULL) {
    lua_pushinteger(L, (int32_t)mnl_attr_get_u32(li.tb[IFLA_LINK_NETNSID]));
    lua_setfield(L, -2, "link_netnsid");
  }
  if (li.tb[IFLA_IFALIAS] != NULL) {
    lua_pushstring(L, mnl_attr_get_str(li.tb[IFLA_IFALIAS]));
    lua_setfield(L, -2, "alias");
  }
}

/* Dump callbacks append to the list at 'tbl'. */
typedef struct dump {
  lua_State *L;
  int tbl;
  int filter;           /* ifindex or family filter, 0 = all */
  int names;            /* index of an index -> name table, 0 = none */
  int index;            /* result of a by-name lookup */
} dump;

static int links_cb (const struct nlmsghdr *nlh, void *data) {
  dump *d = (dump *)((talk *)data)->user;
  if (nlh->nlmsg_type != RTM_NEWLINK)
    return MNL_CB_OK;
  push_link(d->L, nlh);
  lua_rawseti(d->L, d->tbl, (lua_Integer)lua_rawlen(d->L, d->tbl) + 1);
  return MNL_CB_OK;
}

static int index_cb (const struct nlmsghdr *nlh, void *data) {
  dump *d = (dump *)((talk *)data)->user;
  if (nlh->nlmsg_type == RTM_NEWLINK)
    d->index = ((const struct ifinfomsg *)mnl_nlmsg_get_payload(nlh))->ifi_index;
  return MNL_CB_OK;
}

/* Dump every link into a new list pushed on the stack.  Returns 0 or an errno. */
static int dump_links (lua_State *L, nlsock *s, talk *t) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct nlmsghdr *nlh = put_link_hdr(buf, RTM_GETLINK, NLM_F_DUMP, 0);
  dump d;
  int err;
  lua_newtable(L);
  d.L = L;
  d.tbl = lua_gettop(L);
  t->user = &d;
  err = nl_talk(s, nlh, links_cb, t);
  t->user = NULL;  /* 'd' dies here; t->ext lives on for the message */
  return err;
}

/* Find one link by name; with 'push' its table goes on the stack (else nothing). */
static int get_link (lua_State *L, nlsock *s, const char *name, int push, int *index,
                     talk *t) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct nlmsghdr *nlh = put_link_hdr(buf, RTM_GETLINK, 0, 0);
  dump d;
  int err;
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
  lua_newtable(L);
  d.L = L;
  d.tbl = lua_gettop(L);
  d.index = 0;
  t->user = &d;
  err = nl_talk(s, nlh, push ? links_cb : index_cb, t);
  t->user = NULL;
  if (push) {
    lua_rawgeti(L, d.tbl, 1);
    lua_remove(L, d.tbl);
    if (err == 0 && lua_istable(L, -1)) {
      lua_getfield(L, -1, "index");
      d.index = (int)lua_tointeger(L, -1);
      lua_pop(L, 1);
    }
  } else {
    lua_pop(L, 1);
  }
  if (index != NULL)
    *index = d.index;
  return err;
}

/* name -> ifindex through 's' (the socket's netns, not the caller's). */
static int resolve (lua_State *L, nlsock *s, const char *name, int *index, talk *t) {
  int err = get_link(L, s, name, 0, index, t);
  if (err == 0 && *index == 0)
    err = ENODEV;
  return err;
}

/* Push an index -> name table of every link. */
static int link_names (lua_State *L, nlsock *s, talk *t) {
  int err = dump_links(L, s, t), i, n, list = lua_gettop(L);
  lua_newtable(L);
  n = (int)lua_rawlen(L, list);
  for (i = 1; i <= n; i++) {
    lua_rawgeti(L, list, i);
    lua_getfield(L, -1, "index");
    lua_getfield(L, -2, "name");
    lua_rawset(L, -4);
    lua_pop(L, 1);
  }
  lua_remove(L, list);
  return err;
}

/* netlink.links([sock]) -> list of link tables | nil, msg, errno */
static int netlink_links (lua_State *L) {
  lua_settop(L, 1);
  int tmp, err;
  nlsock *s = get_sock(L, 1, &tmp, &err);
  talk t;
  if (s == NULL)
    return nslua_fail(L, err, "netlink socket", NULL);
  err = dump_links(L, s, &t);
  done_sock(s, tmp);
  if (err != 0)
    return fail_ext(L, err, "links", NULL, &t);
  return 1;
}

/* netlink.link(name [, sock]) -> link table | nil, msg, errno (ENODEV) */
static int netlink_link (lua_State *L) {
  lua_settop(L, 2);
  const char *name = check_ifname(L, 1);
  int tmp, err;
  nlsock *s = get_sock(L, 2, &tmp, &err);
  talk t;
  if (s == NULL)
    return nslua_fail(L, err, "netlink socket", NULL);
  err = get_link(L, s, name, 1, NULL, &t);
  done_sock(s, tmp);
  if (err == 0 && !lua_istable(L, -1))
    err = ENODEV;
  if (err != 0)
    return fail_ext(L, err, "link", name, &t);
  return 1;
}

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
  talk t;

  opt_netns(L, 3, &ns);
  s = get_sock(L, 4, &tmp, &err);
  if (s == NULL)
    return nslua_fail(L, err, "netlink socket", NULL);
  nlh = put_link_hdr(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0);
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
  err = nl_talk(s, nlh, NULL, &t);
  done_sock(s, tmp);
  if (err != 0)
    return fail_ext(L, err, "veth", name, &t);
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
  talk t;
  lua_settop(L, 2);
  name = check_ifname(L, 1);
  s = get_sock(L, 2, &tmp, &err);
  if (s == NULL)
    return nslua_fail(L, err, "netlink socket", NULL);
  nlh = put_link_hdr(buf, type, flags, 0);
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
  if (kind != NULL) {
    struct nlattr *linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
    mnl_attr_put_strz(nlh, IFLA_INFO_KIND, kind);
    mnl_attr_nest_end(nlh, linkinfo);
  }
  err = nl_talk(s, nlh, NULL, &t);
  done_sock(s, tmp);
  if (err != 0)
    return fail_ext(L, err, what, name, &t);
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
static void check_keys (lua_State *L, int arg, const char *const *keys, const char *noun) {
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
  const char *newname = NULL, *alias = NULL, *master_name = NULL;
  int has_up = 0, up = 0, has_mtu = 0, has_mac = 0, has_master = 0, index, tmp, err;
  lua_Integer mtu = 0, master = 0;
  unsigned char mac[6];
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct nlmsghdr *nlh;
  struct ifinfomsg *ifm;
  netns_ref ns = {-1, 0};
  nlsock *s;
  talk t;

  check_keys(L, 2, link_set_keys, "option");
  lua_getfield(L, 2, "up");
  if (!lua_isnil(L, -1)) {
    luaL_argcheck(L, lua_isboolean(L, -1), 2, "option 'up' must be a boolean");
    has_up = 1;
    up = lua_toboolean(L, -1);
  }
  lua_getfield(L, 2, "mtu");
  if (!lua_isnil(L, -1)) {
    int isnum;
    mtu = lua_tointegerx(L, -1, &isnum);
    luaL_argcheck(L, isnum && mtu > 0 && mtu <= 0xffffff, 2,
                  "option 'mtu' must be a positive integer");
    has_mtu = 1;
  }
  lua_getfield(L, 2, "name");
  if (!lua_isnil(L, -1)) {
    size_t len;
    luaL_argcheck(L, lua_type(L, -1) == LUA_TSTRING, 2, "option 'name' must be a string");
    newname = lua_tolstring(L, -1, &len);
    check_ifname_str(L, 2, newname, len);
  }
  lua_getfield(L, 2, "mac");
  if (!lua_isnil(L, -1)) {
    const char *m = lua_tostring(L, -1);
    luaL_argcheck(L, lua_type(L, -1) == LUA_TSTRING && parse_mac(m, mac), 2,
                  "option 'mac' must look like 'aa:bb:cc:dd:ee:ff'");
    has_mac = 1;
  }
  lua_getfield(L, 2, "master");
  if (!lua_isnil(L, -1)) {
    has_master = 1;
    if (lua_isboolean(L, -1)) {
      luaL_argcheck(L, !lua_toboolean(L, -1), 2,
                    "option 'master' must be a name, an index or false");
    } else if (lua_type(L, -1) == LUA_TNUMBER) {
      int isnum;
      master = lua_tointegerx(L, -1, &isnum);
      luaL_argcheck(L, isnum && master > 0 && master <= 0x7fffffff, 2,
                    "option 'master' index out of range");
    } else {
      size_t len;
      luaL_argcheck(L, lua_type(L, -1) == LUA_TSTRING, 2,
                    "option 'master' must be a name, an index or false");
      master_name = lua_tolstring(L, -1, &len);
      check_ifname_str(L, 2, master_name, len);
    }
  }
  lua_getfield(L, 2, "alias");
  if (!lua_isnil(L, -1)) {
    size_t len;
    luaL_argcheck(L, lua_type(L, -1) == LUA_TSTRING, 2, "option 'alias' must be a string");
    alias = lua_tolstring(L, -1, &len);
    luaL_argcheck(L, len < IFALIASZ, 2, "option 'alias' must be shorter than 256 bytes");
  }
  lua_getfield(L, 2, "netns");
  if (!lua_isnil(L, -1))
    opt_netns(L, lua_gettop(L), &ns);

  s = get_sock(L, 3, &tmp, &err);
  if (s == NULL)
    return nslua_fail(L, err, "netlink socket", NULL);
  err = resolve(L, s, name, &index, &t);
  if (err == 0 && master_name != NULL) {
    int mi;
    err = resolve(L, s, master_name, &mi, &t);
    master = mi;
    if (err != 0) {
      done_sock(s, tmp);
      return fail_ext(L, err, "link_set master", master_name, &t);
    }
  }
  if (err == 0) {
    nlh = put_link_hdr(buf, RTM_NEWLINK, 0, index);
    ifm = (struct ifinfomsg *)mnl_nlmsg_get_payload(nlh);
    if (has_up) {
      ifm->ifi_change = IFF_UP;
      ifm->ifi_flags = up ? IFF_UP : 0;
    }
    if (newname != NULL)
      mnl_attr_put_strz(nlh, IFLA_IFNAME, newname);
    if (has_mtu)
      mnl_attr_put_u32(nlh, IFLA_MTU, (uint32_t)mtu);
    if (has_mac)
      mnl_attr_put(nlh, IFLA_ADDRESS, 6, mac);
    if (has_master)
      mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)master);
    if (alias != NULL)
      mnl_attr_put_str(nlh, IFLA_IFALIAS, alias);
    put_netns(nlh, &ns);
    err = nl_talk(s, nlh, NULL, &t);
  }
  done_sock(s, tmp);
  if (err != 0)
    return fail_ext(L, err, "link_set", name, &t);
  return nslua_ok(L);
}

/* ---------------------------------------------------------- addresses */

static const char *family_name (int family) {
  return family == AF_INET ? "inet" : family == AF_INET6 ? "inet6" : "unspec";
}

static void push_cidr_fields (lua_State *L, int family, const void *a, int prefix,
                              const char *afield, const char *cfield) {
  char s[INET6_ADDRSTRLEN];
  inet_ntop(family, a, s, sizeof s);
  if (afield != NULL) {
    lua_pushstring(L, s);
    lua_setfield(L, -2, afield);
  }
  if (cfield != NULL) {
    lua_pushfstring(L, "%s/%d", s, prefix);
    lua_setfield(L, -2, cfield);
  }
}

static const nslua_flag ifa_names[] = {
  {"secondary", IFA_F_SECONDARY}, {"nodad", IFA_F_NODAD},
  {"optimistic", IFA_F_OPTIMISTIC}, {"dadfailed", IFA_F_DADFAILED},
  {"homeaddress", IFA_F_HOMEADDRESS}, {"deprecated", IFA_F_DEPRECATED},
  {"tentative", IFA_F_TENTATIVE}, {"permanent", IFA_F_PERMANENT},
  {"noprefixroute", IFA_F_NOPREFIXROUTE},
  {NULL, 0}
};

static int addr_attr_cb (const struct nlattr *attr, void *data) {
  const struct nlattr **tb = (const struct nlattr **)data;
  int type = mnl_attr_get_type(attr);
  if (mnl_attr_type_valid(attr, IFA_MAX) >= 0)
    tb[type] = attr;
  return MNL_CB_OK;
}

static int addrs_cb (const struct nlmsghdr *nlh, void *data) {
  dump *d = (dump *)((talk *)data)->user;
  lua_State *L = d->L;
  const struct ifaddrmsg *ifa = (const struct ifaddrmsg *)mnl_nlmsg_get_payload(nlh);
  const struct nlattr *tb[IFA_MAX + 1];
  const struct nlattr *a;
  const nslua_flag *f;
  uint32_t flags;
  if (nlh->nlmsg_type != RTM_NEWADDR)
    return MNL_CB_OK;
  if (d->filter != 0 && (int)ifa->ifa_index != d->filter)
    return MNL_CB_OK;
  if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)
    return MNL_CB_OK;
  memset(tb, 0, sizeof tb);
  mnl_attr_parse(nlh, sizeof *ifa, addr_attr_cb, tb);
  a = tb[IFA_LOCAL] != NULL ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
  if (a == NULL || mnl_attr_get_payload_len(a) < addr_len(ifa->ifa_family))
    return MNL_CB_OK;
  lua_createtable(L, 0, 8);
  lua_rawgeti(L, d->names, ifa->ifa_index);
  lua_setfield(L, -2, "ifname");
  lua_pushinteger(L, ifa->ifa_index);
  lua_setfield(L, -2, "index");
  lua_pushstring(L, family_name(ifa->ifa_family));
  lua_setfield(L, -2, "family");
  push_cidr_fields(L, ifa->ifa_family, mnl_attr_get_payload(a), ifa->ifa_prefixlen,
                   "addr", "cidr");
  lua_pushinteger(L, ifa->ifa_prefixlen);
  lua_setfield(L, -2, "prefix");
  flags = ifa->ifa_flags;
  if (tb[IFA_FLAGS] != NULL && mnl_attr_validate(tb[IFA_FLAGS], MNL_TYPE_U32) >= 0)
    flags = mnl_attr_get_u32(tb[IFA_FLAGS]);
  lua_newtable(L);
  for (f = ifa_names; f->name != NULL; f++) {
    if (flags & f->bits) {
      lua_pushboolean(L, 1);
      lua_setfield(L, -2, f->name);
    }
  }
  lua_setfield(L, -2, "flags");
  lua_rawseti(L, d->tbl, (lua_Integer)lua_rawlen(L, d->tbl) + 1);
  return MNL_CB_OK;
}

/*
** netlink.addrs([ifname] [, sock]) -> list of {ifname, index, family = "inet"|"inet6",
**   addr, prefix, cidr, flags} | nil, msg, errno
** The socket may come first when ifname is left out.
*/
static int netlink_addrs (lua_State *L) {
  lua_settop(L, 2);
  const char *name = NULL;
  int sarg = 2, tmp, err, index = 0;
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct nlmsghdr *nlh;
  struct ifaddrmsg *ifa;
  nlsock *s;
  dump d;
  talk t;
  if (is_nlsock(L, 1))
    sarg = 1;
  else if (!lua_isnoneornil(L, 1))
    name = check_ifname(L, 1);
  s = get_sock(L, sarg, &tmp, &err);
  if (s == NULL)
    return nslua_fail(L, err, "netlink socket", NULL);
  if (name != NULL)
    err = resolve(L, s, name, &index, &t);
  if (err == 0)
    err = link_names(L, s, &t);
  if (err == 0) {
    d.names = lua_gettop(L);
    lua_newtable(L);
    d.L = L;
    d.tbl = lua_gettop(L);
    d.filter = index;
    t.user = &d;
    nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_GETADDR;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    ifa = (struct ifaddrmsg *)mnl_nlmsg_put_extra_header(nlh, sizeof *ifa);
    ifa->ifa_family = AF_UNSPEC;
    err = nl_talk(s, nlh, addrs_cb, &t);
  }
  done_sock(s, tmp);
  if (err != 0)
    return fail_ext(L, err, "addrs", name, &t);
  return 1;
}

/* addr_add / addr_del: one RTM_NEWADDR or RTM_DELADDR. */
static int addr_change (lua_State *L, int type, const char *what) {
  lua_settop(L, 3);
  const char *ifname = check_ifname(L, 1);
  const char *spec = luaL_checkstring(L, 2);
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct nlmsghdr *nlh;
  struct ifaddrmsg *ifa;
  int tmp, err, index;
  const char *subject;
  nlsock *s;
  cidr c;
  talk t;

  parse_cidr(L, 2, spec, 1, "address", &c);
  subject = lua_pushfstring(L, "%s %s", ifname, spec);
  s = get_sock(L, 3, &tmp, &err);
  if (s == NULL)
    return nslua_fail(L, err, "netlink socket", NULL);
  err = resolve(L, s, ifname, &index, &t);
  if (err == 0) {
    nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = (unsigned short)type;
    nlh->nlmsg_flags = NLM_F_REQUEST;
    if (type == RTM_NEWADDR)
      nlh->nlmsg_flags |= NLM_F_CREATE | NLM_F_EXCL;
    ifa = (struct ifaddrmsg *)mnl_nlmsg_put_extra_header(nlh, sizeof *ifa);
    ifa->ifa_family = (unsigned char)c.family;
    ifa->ifa_prefixlen = (unsigned char)c.prefix;
    ifa->ifa_scope = RT_SCOPE_UNIVERSE;
    ifa->ifa_index = (unsigned int)index;
    mnl_attr_put(nlh, IFA_LOCAL, addr_len(c.family), c.addr);
    mnl_attr_put(nlh, IFA_ADDRESS, addr_len(c.family), c.addr);
    /* DESIGN: no duplicate address detection.  The address is ours by
    ** construction, and DAD would hold it "tentative" (unusable) for a
    ** second or more after the container starts. */
    if (c.family == AF_INET6 && type == RTM_NEWADDR) {
      ifa->ifa_flags = IFA_F_NODAD;
      mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
    }
    err = nl_talk(s, nlh, NULL, &t);
  }
  done_sock(s, tmp);
  if (err != 0)
    return fail_ext(L, err, what, subject, &t);
  return nslua_ok(L);
}

/* netlink.addr_add(ifname, "10.0.0.1/24" [, sock]) -> true | nil, msg, errno */
static int netlink_addr_add (lua_State *L) {
  return addr_change(L, RTM_NEWADDR, "addr_add");
}

/* netlink.addr_del(ifname, "10.0.0.1/24" [, sock]) -> true | nil, msg, errno */
static int netlink_addr_del (lua_State *L) {
  return addr_change(L, RTM_DELADDR, "addr_del");
}

/* ------------------------------------------------------------- routes */

static const char *const family_names[] = {"inet", "inet6", NULL};
static const int family_values[] = {AF_INET, AF_INET6};

static const char *const rtn_names[] = {
  "unspec", "unicast", "local", "broadcast", "anycast", "multicast",
  "blackhole", "unreachable", "prohibit", "throw", "nat", "xresolve"
};

static int route_attr_cb (const struct nlattr *attr, void *data) {
  const struct nlattr **tb = (const struct nlattr **)data;
  int type = mnl_attr_get_type(attr);
  if (mnl_attr_type_valid(attr, RTA_MAX) >= 0)
    tb[type] = attr;
  return MNL_CB_OK;
}

static int routes_cb (const struct nlmsghdr *nlh, void *data) {
  dump *d = (dump *)((talk *)data)->user;
  lua_State *L = d->L;
  const struct rtmsg *rtm = (const struct rtmsg *)mnl_nlmsg_get_payload(nlh);
  const struct nlattr *tb[RTA_MAX + 1];
  size_t alen;
  uint32_t table;
  if (nlh->nlmsg_type != RTM_NEWROUTE)
    return MNL_CB_OK;
  if (rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6)
    return MNL_CB_OK;
  if (d->filter != 0 && rtm->rtm_family != d->filter)
    return MNL_CB_OK;
  if (rtm->rtm_flags & RTM_F_CLONED)
    return MNL_CB_OK;
  alen = addr_len(rtm->rtm_family);
  memset(tb, 0, sizeof tb);
  mnl_attr_parse(nlh, sizeof *rtm, route_attr_cb, tb);
  lua_createtable(L, 0, 8);
  lua_pushstring(L, family_name(rtm->rtm_family));
  lua_setfield(L, -2, "family");
  if (rtm->rtm_dst_len == 0 || tb[RTA_DST] == NULL) {
    lua_pushliteral(L, "default");
    lua_setfield(L, -2, "dst");
  } else if (mnl_attr_get_payload_len(tb[RTA_DST]) >= alen) {
    push_cidr_fields(L, rtm->rtm_family, mnl_attr_get_payload(tb[RTA_DST]),
                     rtm->rtm_dst_len, NULL, "dst");
  }
  lua_pushinteger(L, rtm->rtm_dst_len);
  lua_setfield(L, -2, "prefix");
  if (tb[RTA_GATEWAY] != NULL && mnl_attr_get_payload_len(tb[RTA_GATEWAY]) >= alen)
    push_cidr_fields(L, rtm->rtm_family, mnl_attr_get_payload(tb[RTA_GATEWAY]), 0,
                     "gateway", NULL);
  if (tb[RTA_OIF] != NULL && mnl_attr_validate(tb[RTA_OIF], MNL_TYPE_U32) >= 0) {
    lua_rawgeti(L, d->names, mnl_attr_get_u32(tb[RTA_OIF]));
    lua_setfield(L, -2, "dev");
  }
  table = rtm->rtm_table;
  if (tb[RTA_TABLE] != NULL && mnl_attr_validate(tb[RTA_TABLE], MNL_TYPE_U32) >= 0)
    table = mnl_attr_get_u32(tb[RTA_TABLE]);
  lua_pushinteger(L, table);
  lua_setfield(L, -2, "table");
  if (tb[RTA_PRIORITY] != NULL && mnl_attr_validate(tb[RTA_PRIORITY], MNL_TYPE_U32) >= 0) {
    lua_pushinteger(L, mnl_attr_get_u32(tb[RTA_PRIORITY]));
    lua_setfield(L, -2, "metric");
  }
  if (rtm->rtm_type < sizeof rtn_names / sizeof rtn_names[0]) {
    lua_pushstring(L, rtn_names[rtm->rtm_type]);
    lua_setfield(L, -2, "type");
  }
  lua_rawseti(L, d->tbl, (lua_Integer)lua_rawlen(L, d->tbl) + 1);
  return MNL_CB_OK;
}

/*
** netlink.routes(["inet"|"inet6"] [, sock]) -> list of {dst, prefix, gateway,
**   dev, family, table, metric, type} | nil, msg, errno
** Every table (main is 254, local 255); cached clones are left out.
*/
static int netlink_routes (lua_State *L) {
  lua_settop(L, 2);
  int sarg = 2, tmp, err, family = 0;
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct nlmsghdr *nlh;
  struct rtmsg *rtm;
  nlsock *s;
  dump d;
  talk t;
  if (is_nlsock(L, 1))
    sarg = 1;
  else if (!lua_isnoneornil(L, 1))
    family = family_values[luaL_checkoption(L, 1, NULL, family_names)];
  s = get_sock(L, sarg, &tmp, &err);
  if (s == NULL)
    return nslua_fail(L, err, "netlink socket", NULL);
  err = link_names(L, s, &t);
  if (err == 0) {
    d.names = lua_gettop(L);
    lua_newtable(L);
    d.L = L;
    d.tbl = lua_gettop(L);
    d.filter = family;
    t.user = &d;
    nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_GETROUTE;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    rtm = (struct rtmsg *)mnl_nlmsg_put_extra_header(nlh, sizeof *rtm);
    rtm->rtm_family = (unsigned char)family;
    err = nl_talk(s, nlh, routes_cb, &t);
  }
  done_sock(s, tmp);
  if (err != 0)
    return fail_ext(L, err, "routes", NULL, &t);
  return 1;
}

static const char *const route_keys[] = {
  "dev", "dst", "family", "gateway", "metric", "onlink", "table", NULL
};

/* route_add / route_del: one RTM_NEWROUTE or RTM_DELROUTE from a spec table. */
static int route_change (lua_State *L, int type, const char *what) {
  lua_settop(L, 2);
  const char *dst, *dev = NULL;
  cidr cdst, cgw;
  int has_gw = 0, onlink = 0, family = 0, tmp, err, oif = 0;
  lua_Integer table = RT_TABLE_MAIN, metric = -1;
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct nlmsghdr *nlh;
  struct rtmsg *rtm;
  nlsock *s;
  talk t;

  check_keys(L, 1, route_keys, "field");
  lua_getfield(L, 1, "family");
  if (!lua_isnil(L, -1))
    family = family_values[luaL_checkoption(L, -1, NULL, family_names)];
  lua_getfield(L, 1, "dst");
  luaL_argcheck(L, lua_type(L, -1) == LUA_TSTRING, 1,
                "field 'dst' must be \"default\" or a CIDR");
  dst = lua_tostring(L, -1);
  memset(&cdst, 0, sizeof cdst);
  if (strcmp(dst, "default") == 0) {
    cdst.prefix = 0;
  } else {
    parse_cidr(L, 1, dst, 1, "dst", &cdst);
    if (family != 0 && family != cdst.family)
      luaL_argerror(L, 1, "field 'dst' does not match field 'family'");
    family = cdst.family;
  }
  lua_getfield(L, 1, "gateway");
  if (!lua_isnil(L, -1)) {
    luaL_argcheck(L, lua_type(L, -1) == LUA_TSTRING, 1, "field 'gateway' must be a string");
    parse_cidr(L, 1, lua_tostring(L, -1), 0, "gateway", &cgw);
    luaL_argcheck(L, cgw.prefix < 0, 1, "field 'gateway' must be an address without /prefix");
    if (family != 0 && family != cgw.family)
      luaL_argerror(L, 1, "field 'gateway' does not match the family of 'dst'");
    family = cgw.family;
    has_gw = 1;
  }
  lua_getfield(L, 1, "dev");
  if (!lua_isnil(L, -1)) {
    size_t len;
    luaL_argcheck(L, lua_type(L, -1) == LUA_TSTRING, 1, "field 'dev' must be a string");
    dev = lua_tolstring(L, -1, &len);
    check_ifname_str(L, 1, dev, len);
  }
  lua_getfield(L, 1, "onlink");
  if (!lua_isnil(L, -1)) {
    luaL_argcheck(L, lua_isboolean(L, -1), 1, "field 'onlink' must be a boolean");
    onlink = lua_toboolean(L, -1);
  }
  lua_getfield(L, 1, "table");
  if (!lua_isnil(L, -1)) {
    int isnum;
    table = lua_tointegerx(L, -1, &isnum);
    luaL_argcheck(L, isnum && table > 0 && table <= 0x7fffffff, 1,
                  "field 'table' must be a positive integer");
  }
  lua_getfield(L, 1, "metric");
  if (!lua_isnil(L, -1)) {
    int isnum;
    metric = lua_tointegerx(L, -1, &isnum);
    luaL_argcheck(L, isnum && metric >= 0 && metric <= 0xffffffff, 1,
                  "field 'metric' must be a non-negative integer");
  }
  luaL_argcheck(L, type == RTM_DELROUTE || has_gw || dev != NULL, 1,
                "a route needs field 'gateway' or field 'dev'");
  if (family == 0)
    family = AF_INET;

  s = get_sock(L, 2, &tmp, &err);
  if (s == NULL)
    return nslua_fail(L, err, "netlink socket", NULL);
  if (dev != NULL)
    err = resolve(L, s, dev, &oif, &t);
  if (err != 0) {
    done_sock(s, tmp);
    return fail_ext(L, err, what, dev, &t);
  }
  nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = (unsigned short)type;
  nlh->nlmsg_flags = NLM_F_REQUEST;
  if (type == RTM_NEWROUTE)
    nlh->nlmsg_flags |= NLM_F_CREATE | NLM_F_EXCL;
  rtm = (struct rtmsg *)mnl_nlmsg_put_extra_header(nlh, sizeof *rtm);
  rtm->rtm_family = (unsigned char)family;
  rtm->rtm_dst_len = (unsigned char)cdst.prefix;
  rtm->rtm_table = table < 256 ? (unsigned char)table : RT_TABLE_UNSPEC;
  rtm->rtm_protocol = RTPROT_BOOT;
  rtm->rtm_type = RTN_UNICAST;
  /* iproute2's choice: a route without a gateway is on-link (scope link);
  ** a delete matches any scope. */
  if (type == RTM_DELROUTE)
    rtm->rtm_scope = RT_SCOPE_NOWHERE;
  else
    rtm->rtm_scope = has_gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
  if (onlink)
    rtm->rtm_flags |= RTNH_F_ONLINK;
  mnl_attr_put_u32(nlh, RTA_TABLE, (uint32_t)table);
  if (cdst.prefix > 0)
    mnl_attr_put(nlh, RTA_DST, addr_len(family), cdst.addr);
  if (has_gw)
    mnl_attr_put(nlh, RTA_GATEWAY, addr_len(family), cgw.addr);
  if (oif != 0)
    mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)oif);
  if (metric >= 0)
    mnl_attr_put_u32(nlh, RTA_PRIORITY, (uint32_t)metric);
  err = nl_talk(s, nlh, NULL, &t);
  done_sock(s, tmp);
  if (err != 0)
    return fail_ext(L, err, what, dst, &t);
  return nslua_ok(L);
}

/*
** netlink.route_add{dst = "default"|CIDR, gateway = IP, dev = NAME, onlink = bool,
**   family = "inet"|"inet6", table = n, metric = n} [, sock] -> true | nil, msg, errno
** The family comes from dst or gateway; "default" without a gateway is inet
** unless 'family' says otherwise.
*/
static int netlink_route_add (lua_State *L) {
  return route_change(L, RTM_NEWROUTE, "route_add");
}

/* netlink.route_del{same fields} [, sock] -> true | nil, msg, errno (ESRCH) */
static int netlink_route_del (lua_State *L) {
  return route_change(L, RTM_DELROUTE, "route_del");
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
  {"addr_add", netlink_addr_add},
  {"addr_del", netlink_addr_del},
  {"addrs", netlink_addrs},
  {"bridge", netlink_bridge},
  {"link", netlink_link},
  {"link_del", netlink_link_del},
  {"link_set", netlink_link_set},
  {"links", netlink_links},
  {"lockfile", netlink_lockfile},
  {"route_add", netlink_route_add},
  {"route_del", netlink_route_del},
  {"routes", netlink_routes},
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
  if (luaL_newmetatable(L, NLSOCK)) {
    luaL_setfuncs(L, nlsock_meta, 0);
    luaL_newlib(L, nlsock_methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  luaL_newlib(L, netlink_funcs);
  return 1;
}
