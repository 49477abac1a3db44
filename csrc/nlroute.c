/* nlroute.c - core.netlink: link, address and route dumps; address and route changes. */
/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "nslua.h"

/* netlink.c registers this file's functions and owns the request
** machinery: sockets, nslua_nl_talk, extended ACKs, link lookups. */

static int is_nlsock (lua_State *L, int arg) {
  return luaL_testudata(L, arg, NSLUA_NLSOCK) != NULL;
}

static const char *check_ifname (lua_State *L, int arg) {
  size_t len;
  const char *name = luaL_checklstring(L, arg, &len);
  return nslua_nl_checkifname(L, arg, name, len);
}

/* -------------------------------------------------------------- dumps */

/* How often a dump the kernel marked interrupted is read again. */
#define DUMP_TRIES 8

/*
** Run the dump request 'nlh' into the list at d->tbl.  A dump whose
** messages carry NLM_F_DUMP_INTR (the links, addresses or routes changed
** while the kernel walked them, so the list may miss or repeat entries;
** libmnl reports it as EINTR) is read again from the start into an empty
** list, up to DUMP_TRIES times: concurrent veth set-ups in one netns
** interrupt dumps often, and iproute2 only warns about it.  nslua_nl_talk
** drains what is left of an interrupted dump before it sends again.
*/
static int dump (nlsock *s, struct nlmsghdr *nlh, mnl_cb_t cb, nltalk *t, nldump *d) {
  int err = 0, i;
  t->user = d;
  for (i = 0; i < DUMP_TRIES; i++) {
    if (i > 0) {
      lua_newtable(d->L);
      lua_replace(d->L, d->tbl);
    }
    err = nslua_nl_talk(s, nlh, cb, t);
    if (err != EINTR)
      break;
  }
  t->user = NULL;  /* 'd' dies with the caller; t->ext lives on for the message */
  return err;
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

static int links_cb (const struct nlmsghdr *nlh, void *data) {
  nldump *d = (nldump *)((nltalk *)data)->user;
  if (nlh->nlmsg_type != RTM_NEWLINK)
    return MNL_CB_OK;
  push_link(d->L, nlh);
  lua_rawseti(d->L, d->tbl, (lua_Integer)lua_rawlen(d->L, d->tbl) + 1);
  return MNL_CB_OK;
}

/* Dump every link into a new list pushed on the stack.  Returns 0 or an errno. */
static int dump_links (lua_State *L, nlsock *s, nltalk *t) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct nlmsghdr *nlh = nslua_nl_linkhdr(buf, RTM_GETLINK, NLM_F_DUMP, 0);
  nldump d;
  lua_newtable(L);
  d.L = L;
  d.tbl = lua_gettop(L);
  return dump(s, nlh, links_cb, t, &d);
}

/* Find one link by name and push its table (nil when there is none). */
static int get_link (lua_State *L, nlsock *s, const char *name, nltalk *t) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct nlmsghdr *nlh = nslua_nl_linkhdr(buf, RTM_GETLINK, 0, 0);
  nldump d;
  int err;
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
  lua_newtable(L);
  d.L = L;
  d.tbl = lua_gettop(L);
  t->user = &d;
  err = nslua_nl_talk(s, nlh, links_cb, t);
  t->user = NULL;
  lua_rawgeti(L, d.tbl, 1);
  lua_remove(L, d.tbl);
  return err;
}

/* Push an index -> name table of every link. */
static int link_names (lua_State *L, nlsock *s, nltalk *t) {
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
  nlsock *s = nslua_nl_sock(L, 1, &tmp, &err);
  nltalk t;
  if (s == NULL)
    return nslua_fail(L, err, "netlink socket", NULL);
  err = dump_links(L, s, &t);
  if (tmp)
    nslua_nl_close(s);
  if (err != 0)
    return nslua_nl_fail(L, err, "links", NULL, &t);
  return 1;
}

/* netlink.link(name [, sock]) -> link table | nil, msg, errno (ENODEV) */
static int netlink_link (lua_State *L) {
  lua_settop(L, 2);
  const char *name = check_ifname(L, 1);
  int tmp, err;
  nlsock *s = nslua_nl_sock(L, 2, &tmp, &err);
  nltalk t;
  if (s == NULL)
    return nslua_fail(L, err, "netlink socket", NULL);
  err = get_link(L, s, name, &t);
  if (tmp)
    nslua_nl_close(s);
  if (err == 0 && !lua_istable(L, -1))
    err = ENODEV;
  if (err != 0)
    return nslua_nl_fail(L, err, "link", name, &t);
  return 1;
}

/* ---------------------------------------------------------------- cidrs */

typedef struct cidr {
  int family;                 /* AF_INET or AF_INET6 */
  unsigned char addr[16];
  int prefix;                 /* -1: none given */
} cidr;

/* What cidr_parse found wrong. */
enum { CIDR_ADDR = 1, CIDR_PREFIX, CIDR_RANGE, CIDR_NEEDS_PREFIX };

static int prefix_max (int family) {
  return family == AF_INET ? 32 : 128;
}

/*
** "10.0.0.1/24" or "fd00::1/64" into 'c', without Lua: 0 or a CIDR_* code.
** A missing prefix is wrong only when 'need_prefix' is set.
*/
static int cidr_parse (const char *s, int need_prefix, cidr *c) {
  char host[INET6_ADDRSTRLEN + 1];
  const char *slash = strchr(s, '/');
  size_t hl = slash ? (size_t)(slash - s) : strlen(s);
  if (hl == 0 || hl >= sizeof host)
    return CIDR_ADDR;
  memcpy(host, s, hl);
  host[hl] = '\0';
  if (inet_pton(AF_INET, host, c->addr) == 1)
    c->family = AF_INET;
  else if (inet_pton(AF_INET6, host, c->addr) == 1)
    c->family = AF_INET6;
  else
    return CIDR_ADDR;
  c->prefix = -1;
  if (slash != NULL) {
    const char *p = slash + 1;
    int v = 0;
    if (*p == '\0' || strlen(p) > 3)
      return CIDR_PREFIX;
    for (; *p; p++) {
      if (!isdigit((unsigned char)*p))
        return CIDR_PREFIX;
      v = v * 10 + (*p - '0');
    }
    c->prefix = v;
    if (v > prefix_max(c->family))
      return CIDR_RANGE;
  } else if (need_prefix) {
    return CIDR_NEEDS_PREFIX;
  }
  return 0;
}

/* cidr_parse, raising naming the argument ('what' is how the message calls
** the value). */
static void parse_cidr (lua_State *L, int arg, const char *s, int need_prefix,
                        const char *what, cidr *c) {
  switch (cidr_parse(s, need_prefix, c)) {
    case CIDR_ADDR:
      luaL_argerror(L, arg, lua_pushfstring(L, "invalid %s '%s'", what, s));
      break;
    case CIDR_PREFIX:
      luaL_argerror(L, arg, lua_pushfstring(L, "invalid prefix in %s '%s'", what, s));
      break;
    case CIDR_RANGE:
      luaL_argerror(L, arg, lua_pushfstring(L, "prefix %d out of range 0..%d in %s '%s'",
                                            c->prefix, prefix_max(c->family), what, s));
      break;
    case CIDR_NEEDS_PREFIX:
      luaL_argerror(L, arg, lua_pushfstring(L, "%s '%s' needs a /prefix", what, s));
      break;
    default:
      break;
  }
}

static size_t addr_len (int family) {
  return family == AF_INET ? 4 : 16;
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
  nldump *d = (nldump *)((nltalk *)data)->user;
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
  nldump d;
  nltalk t;
  if (is_nlsock(L, 1))
    sarg = 1;
  else if (!lua_isnoneornil(L, 1))
    name = check_ifname(L, 1);
  s = nslua_nl_sock(L, sarg, &tmp, &err);
  if (s == NULL)
    return nslua_fail(L, err, "netlink socket", NULL);
  if (name != NULL)
    err = nslua_nl_ifindex(s, name, &index, &t);
  if (err == 0)
    err = link_names(L, s, &t);
  if (err == 0) {
    d.names = lua_gettop(L);
    lua_newtable(L);
    d.L = L;
    d.tbl = lua_gettop(L);
    d.filter = index;
    nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_GETADDR;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    ifa = (struct ifaddrmsg *)mnl_nlmsg_put_extra_header(nlh, sizeof *ifa);
    ifa->ifa_family = AF_UNSPEC;
    err = dump(s, nlh, addrs_cb, &t, &d);
  }
  if (tmp)
    nslua_nl_close(s);
  if (err != 0)
    return nslua_nl_fail(L, err, "addrs", name, &t);
  return 1;
}

/* One RTM_NEWADDR or RTM_DELADDR of 'c' on link 'index', in 'buf'. */
static struct nlmsghdr *put_addr (char *buf, int type, const cidr *c, int index) {
  struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
  struct ifaddrmsg *ifa;
  nlh->nlmsg_type = (unsigned short)type;
  nlh->nlmsg_flags = NLM_F_REQUEST;
  if (type == RTM_NEWADDR)
    nlh->nlmsg_flags |= NLM_F_CREATE | NLM_F_EXCL;
  ifa = (struct ifaddrmsg *)mnl_nlmsg_put_extra_header(nlh, sizeof *ifa);
  ifa->ifa_family = (unsigned char)c->family;
  ifa->ifa_prefixlen = (unsigned char)c->prefix;
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = (unsigned int)index;
  mnl_attr_put(nlh, IFA_LOCAL, addr_len(c->family), c->addr);
  mnl_attr_put(nlh, IFA_ADDRESS, addr_len(c->family), c->addr);
  /* DESIGN: no duplicate address detection.  The address is ours by
  ** construction, and DAD would hold it "tentative" (unusable) for a
  ** second or more after the container starts. */
  if (c->family == AF_INET6 && type == RTM_NEWADDR) {
    ifa->ifa_flags = IFA_F_NODAD;
    mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
  }
  return nlh;
}

/* addr_add / addr_del: one RTM_NEWADDR or RTM_DELADDR. */
static int addr_change (lua_State *L, int type, const char *what) {
  lua_settop(L, 3);
  const char *ifname = check_ifname(L, 1);
  const char *spec = luaL_checkstring(L, 2);
  char buf[MNL_SOCKET_BUFFER_SIZE];
  int tmp, err, index;
  const char *subject;
  nlsock *s;
  cidr c;
  nltalk t;

  parse_cidr(L, 2, spec, 1, "address", &c);
  subject = lua_pushfstring(L, "%s %s", ifname, spec);
  s = nslua_nl_sock(L, 3, &tmp, &err);
  if (s == NULL)
    return nslua_fail(L, err, "netlink socket", NULL);
  err = nslua_nl_ifindex(s, ifname, &index, &t);
  if (err == 0)
    err = nslua_nl_talk(s, put_addr(buf, type, &c, index), NULL, &t);
  if (tmp)
    nslua_nl_close(s);
  if (err != 0)
    return nslua_nl_fail(L, err, what, subject, &t);
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
  nldump *d = (nldump *)((nltalk *)data)->user;
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
  nldump d;
  nltalk t;
  if (is_nlsock(L, 1))
    sarg = 1;
  else if (!lua_isnoneornil(L, 1))
    family = family_values[luaL_checkoption(L, 1, NULL, family_names)];
  s = nslua_nl_sock(L, sarg, &tmp, &err);
  if (s == NULL)
    return nslua_fail(L, err, "netlink socket", NULL);
  err = link_names(L, s, &t);
  if (err == 0) {
    d.names = lua_gettop(L);
    lua_newtable(L);
    d.L = L;
    d.tbl = lua_gettop(L);
    d.filter = family;
    nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_GETROUTE;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    rtm = (struct rtmsg *)mnl_nlmsg_put_extra_header(nlh, sizeof *rtm);
    rtm->rtm_family = (unsigned char)family;
    err = dump(s, nlh, routes_cb, &t, &d);
  }
  if (tmp)
    nslua_nl_close(s);
  if (err != 0)
    return nslua_nl_fail(L, err, "routes", NULL, &t);
  return 1;
}

static const char *const route_keys[] = {
  "dev", "dst", "family", "gateway", "metric", "onlink", "table", NULL
};

/* A route to add or delete; put_route builds its request. */
typedef struct route {
  int family;
  cidr dst;                     /* prefix 0: the default route */
  int has_gw;
  cidr gw;
  int oif;                      /* 0: no device */
  int onlink;
  long long table;
  long long metric;             /* -1: none */
} route;

/* One RTM_NEWROUTE or RTM_DELROUTE of 'r', in 'buf'. */
static struct nlmsghdr *put_route (char *buf, int type, const route *r) {
  struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
  struct rtmsg *rtm;
  nlh->nlmsg_type = (unsigned short)type;
  nlh->nlmsg_flags = NLM_F_REQUEST;
  if (type == RTM_NEWROUTE)
    nlh->nlmsg_flags |= NLM_F_CREATE | NLM_F_EXCL;
  rtm = (struct rtmsg *)mnl_nlmsg_put_extra_header(nlh, sizeof *rtm);
  rtm->rtm_family = (unsigned char)r->family;
  rtm->rtm_dst_len = (unsigned char)r->dst.prefix;
  rtm->rtm_table = r->table < 256 ? (unsigned char)r->table : RT_TABLE_UNSPEC;
  rtm->rtm_protocol = RTPROT_BOOT;
  rtm->rtm_type = RTN_UNICAST;
  /* iproute2's choice: a route without a gateway is on-link (scope link);
  ** a delete matches any scope. */
  if (type == RTM_DELROUTE)
    rtm->rtm_scope = RT_SCOPE_NOWHERE;
  else
    rtm->rtm_scope = r->has_gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
  if (r->onlink)
    rtm->rtm_flags |= RTNH_F_ONLINK;
  mnl_attr_put_u32(nlh, RTA_TABLE, (uint32_t)r->table);
  if (r->dst.prefix > 0)
    mnl_attr_put(nlh, RTA_DST, addr_len(r->family), r->dst.addr);
  if (r->has_gw)
    mnl_attr_put(nlh, RTA_GATEWAY, addr_len(r->family), r->gw.addr);
  if (r->oif != 0)
    mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)r->oif);
  if (r->metric >= 0)
    mnl_attr_put_u32(nlh, RTA_PRIORITY, (uint32_t)r->metric);
  return nlh;
}

/* route_add / route_del: one RTM_NEWROUTE or RTM_DELROUTE from a spec table. */
static int route_change (lua_State *L, int type, const char *what) {
  lua_settop(L, 2);
  const char *dst, *dev = NULL;
  route r;
  int tmp, err;
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlsock *s;
  nltalk t;

  memset(&r, 0, sizeof r);
  r.table = RT_TABLE_MAIN;
  r.metric = -1;
  nslua_nl_checkkeys(L, 1, route_keys, "field");
  lua_getfield(L, 1, "family");
  if (!lua_isnil(L, -1))
    r.family = family_values[luaL_checkoption(L, -1, NULL, family_names)];
  lua_getfield(L, 1, "dst");
  luaL_argcheck(L, lua_type(L, -1) == LUA_TSTRING, 1,
                "field 'dst' must be \"default\" or a CIDR");
  dst = lua_tostring(L, -1);
  if (strcmp(dst, "default") != 0) {
    parse_cidr(L, 1, dst, 1, "dst", &r.dst);
    if (r.family != 0 && r.family != r.dst.family)
      luaL_argerror(L, 1, "field 'dst' does not match field 'family'");
    r.family = r.dst.family;
  }
  lua_getfield(L, 1, "gateway");
  if (!lua_isnil(L, -1)) {
    luaL_argcheck(L, lua_type(L, -1) == LUA_TSTRING, 1, "field 'gateway' must be a string");
    parse_cidr(L, 1, lua_tostring(L, -1), 0, "gateway", &r.gw);
    luaL_argcheck(L, r.gw.prefix < 0, 1,
                  "field 'gateway' must be an address without /prefix");
    if (r.family != 0 && r.family != r.gw.family)
      luaL_argerror(L, 1, "field 'gateway' does not match the family of 'dst'");
    r.family = r.gw.family;
    r.has_gw = 1;
  }
  lua_getfield(L, 1, "dev");
  if (!lua_isnil(L, -1)) {
    size_t len;
    luaL_argcheck(L, lua_type(L, -1) == LUA_TSTRING, 1, "field 'dev' must be a string");
    dev = lua_tolstring(L, -1, &len);
    nslua_nl_checkifname(L, 1, dev, len);
  }
  lua_getfield(L, 1, "onlink");
  if (!lua_isnil(L, -1)) {
    luaL_argcheck(L, lua_isboolean(L, -1), 1, "field 'onlink' must be a boolean");
    r.onlink = lua_toboolean(L, -1);
  }
  lua_getfield(L, 1, "table");
  if (!lua_isnil(L, -1)) {
    int isnum;
    lua_Integer v = lua_tointegerx(L, -1, &isnum);
    luaL_argcheck(L, isnum && v > 0 && v <= 0x7fffffff, 1,
                  "field 'table' must be a positive integer");
    r.table = v;
  }
  lua_getfield(L, 1, "metric");
  if (!lua_isnil(L, -1)) {
    int isnum;
    lua_Integer v = lua_tointegerx(L, -1, &isnum);
    luaL_argcheck(L, isnum && v >= 0 && v <= 0xffffffff, 1,
                  "field 'metric' must be a non-negative integer");
    r.metric = v;
  }
  luaL_argcheck(L, type == RTM_DELROUTE || r.has_gw || dev != NULL, 1,
                "a route needs field 'gateway' or field 'dev'");
  if (r.family == 0)
    r.family = AF_INET;

  s = nslua_nl_sock(L, 2, &tmp, &err);
  if (s == NULL)
    return nslua_fail(L, err, "netlink socket", NULL);
  if (dev != NULL)
    err = nslua_nl_ifindex(s, dev, &r.oif, &t);
  if (err != 0) {
    if (tmp)
      nslua_nl_close(s);
    return nslua_nl_fail(L, err, what, dev, &t);
  }
  err = nslua_nl_talk(s, put_route(buf, type, &r), NULL, &t);
  if (tmp)
    nslua_nl_close(s);
  if (err != 0)
    return nslua_nl_fail(L, err, what, dst, &t);
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

/* ---------------------------------------------- without Lua (nslua.h) */

/* netlink.addr_add(ifname, cidr) on a socket of its own (nslua.h). */
int nslua_nl_addr_add (const char *ifname, const char *spec, const char **what) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  int index, err;
  nlsock s;
  nltalk t;
  cidr c;
  *what = "cidr";
  if (spec == NULL || cidr_parse(spec, 1, &c) != 0)
    return EINVAL;
  *what = "netlink socket";
  if ((err = nslua_nl_open(&s)) != 0)
    return err;
  *what = "RTM_GETLINK";
  err = nslua_nl_ifindex(&s, ifname, &index, &t);
  if (err == 0) {
    *what = "RTM_NEWADDR";
    err = nslua_nl_talk(&s, put_addr(buf, RTM_NEWADDR, &c, index), NULL, &t);
  }
  nslua_nl_close(&s);
  return err;
}

/* netlink.route_add{dst, gateway, dev, family} on a socket of its own (nslua.h). */
int nslua_nl_route_add (const char *dst, const char *gateway, const char *dev,
                        int family, const char **what) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlsock s;
  nltalk t;
  route r;
  int err = 0;
  memset(&r, 0, sizeof r);
  r.table = RT_TABLE_MAIN;
  r.metric = -1;
  *what = "family";
  if (family != 0 && family != AF_INET && family != AF_INET6)
    return EINVAL;
  r.family = family;
  if (dst != NULL && strcmp(dst, "default") != 0) {
    *what = "dst";
    if (cidr_parse(dst, 1, &r.dst) != 0 || (r.family != 0 && r.family != r.dst.family))
      return EINVAL;
    r.family = r.dst.family;
  }
  if (gateway != NULL) {
    *what = "gateway";
    if (cidr_parse(gateway, 0, &r.gw) != 0 || r.gw.prefix >= 0
        || (r.family != 0 && r.family != r.gw.family))
      return EINVAL;
    r.family = r.gw.family;
    r.has_gw = 1;
  }
  *what = "dev";
  if (!r.has_gw && dev == NULL)
    return EINVAL;
  if (r.family == 0)
    r.family = AF_INET;
  *what = "netlink socket";
  if ((err = nslua_nl_open(&s)) != 0)
    return err;
  *what = "RTM_GETLINK";
  if (dev != NULL)
    err = nslua_nl_ifindex(&s, dev, &r.oif, &t);
  if (err == 0) {
    *what = "RTM_NEWROUTE";
    err = nslua_nl_talk(&s, put_route(buf, RTM_NEWROUTE, &r), NULL, &t);
  }
  nslua_nl_close(&s);
  return err;
}

/* Registered into core.netlink by netlink.c. */
const luaL_Reg nslua_netlink_route_funcs[] = {
  {"addr_add", netlink_addr_add},
  {"addr_del", netlink_addr_del},
  {"addrs", netlink_addrs},
  {"link", netlink_link},
  {"links", netlink_links},
  {"route_add", netlink_route_add},
  {"route_del", netlink_route_del},
  {"routes", netlink_routes},
  {NULL, NULL}
};
