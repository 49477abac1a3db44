/* sockdiag.c - core.netlink.sockets: every socket of a network namespace (NETLINK_SOCK_DIAG). */
/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/netlink_diag.h>
#include <linux/packet_diag.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nslua.h"

/*
** A warm pool hands its network namespace from one run to the next only
** when nothing of the last run is left in it (DESIGN "Trust rules").  What
** can outlive every process of a run is a socket: a file in flight in an
** SCM_RIGHTS message (kept until the unix garbage collector, which runs
** whenever any unix socket on the machine is released, finds the cycle),
** with the abstract name it is bound to; a TCP connection in TIME_WAIT,
** FIN_WAIT or LAST_ACK, holding its port.  sock_diag lists them all, by
** family and protocol, in the netns the netlink socket was made in.
*/

/*
** The dumps cost: the TCP ones walk the kernel's established and bind hash
** tables, which every network namespace shares unless
** net.ipv4.tcp_child_ehash_entries was set when it was made (1-5 ms each
** here, for two sockets).  The namespace's own counters are read first, in
** /proc/net/sockstat and sockstat6 (per namespace since Linux 4.16):
** "sockets: used" counts every socket a process made there, until it is
** freed (in flight, orphaned, closing: all of them), "tw" its TIME_WAIT
** entries, "inuse" the hashed sockets of each protocol.  All zero: there is
** nothing for a dump to find, and none is made.  Unreadable (no /proc):
** the dumps decide.
*/
typedef struct gate {
  int known;                    /* both files read and parsed */
  long long total;              /* the sum of the per-namespace counters */
} gate;

/* The sum of "used", "inuse" and "tw" in the file at 'path'; -1 when unreadable. */
static long long sockstat_sum (const char *path) {
  char buf[1024], *p, *save = NULL;
  long long sum = 0;
  ssize_t n;
  int fd = open(path, O_RDONLY | O_CLOEXEC), counting = 0, nums = 0;
  if (fd < 0)
    return -1;
  n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0)
    return -1;
  buf[n] = '\0';
  /* "sockets: used 0\nTCP: inuse 0 orphan 0 tw 0 alloc 1 mem 0\n...":
  ** a number counts when the word before it is one of ours (orphan, alloc
  ** and mem are machine-wide; FRAG counts fragments, not sockets) */
  for (p = strtok_r(buf, " \n", &save); p != NULL; p = strtok_r(NULL, " \n", &save)) {
    if (strcmp(p, "used") == 0 || strcmp(p, "inuse") == 0 || strcmp(p, "tw") == 0) {
      counting = 1;
      continue;
    }
    if (counting) {
      char *end;
      long long v = strtoll(p, &end, 10);
      if (*end != '\0' || v < 0)
        return -1;
      sum += v;
      nums++;
    }
    counting = 0;
  }
  return nums > 0 ? sum : -1;
}

/* In the namespace: the counters, and whether a dump is needed.  With none,
** no socket of ours is made there either (a closed netlink socket is freed
** after an RCU grace period, and would count in the next call's "used"). */
static int read_gate (void *ud) {
  gate *g = (gate *)ud;
  long long a = sockstat_sum("/proc/thread-self/net/sockstat");
  long long b = sockstat_sum("/proc/thread-self/net/sockstat6");
  g->known = a >= 0 && b >= 0;
  g->total = g->known ? a + b : -1;
  return !(g->known && g->total == 0);
}

/* What one dump asks for. */
typedef struct kind {
  const char *name;             /* for the message of a failed dump */
  int family, protocol;         /* protocol: IPPROTO_* (inet), 0 otherwise */
  int optional;                 /* ENOENT (no diag handler) is skipped: ASK or ONCE */
} kind;

/*
** Without a diag handler the kernel answers ENOENT.  For a transport that
** is not registered (SCTP while the sctp module is not loaded, UDP-Lite
** where it is gone) that is cheap and there is no such socket either; a
** run may load sctp, so these are asked every time (ASK).  For raw,
** netlink and packet, whose protocols are always there, each request for
** a missing handler makes the kernel run modprobe (sock_load_diag_module),
** so they are asked once per process (ONCE).  Raw and packet sockets need
** CAP_NET_RAW over the namespace (no run of a pool has it); raw_diag is
** often not built.  MPTCP is seen through its subflows (TCP sockets).
*/
enum { REQUIRED, ASK, ONCE };
static const kind kinds[] = {
  {"unix", AF_UNIX, 0, REQUIRED},
  {"tcp", AF_INET, IPPROTO_TCP, REQUIRED},
  {"tcp6", AF_INET6, IPPROTO_TCP, REQUIRED},
  {"udp", AF_INET, IPPROTO_UDP, REQUIRED},
  {"udp6", AF_INET6, IPPROTO_UDP, REQUIRED},
  {"udplite", AF_INET, IPPROTO_UDPLITE, ASK},
  {"udplite6", AF_INET6, IPPROTO_UDPLITE, ASK},
  {"raw", AF_INET, IPPROTO_RAW, ONCE},
  {"raw6", AF_INET6, IPPROTO_RAW, ONCE},
  {"sctp", AF_INET, IPPROTO_SCTP, ASK},
  {"sctp6", AF_INET6, IPPROTO_SCTP, ASK},
  {"netlink", AF_NETLINK, 0, ONCE},
  {"packet", AF_PACKET, 0, ONCE},
};
#define NKINDS (sizeof kinds / sizeof kinds[0])

/* The ONCE kinds the kernel has no handler for. */
static unsigned int absent;

/* include/net/tcp_states.h; unix and udp sockets use the same numbers. */
static const char *const state_names[] = {
  "?", "established", "syn_sent", "syn_recv", "fin_wait1", "fin_wait2", "time_wait",
  "close", "close_wait", "last_ack", "listen", "closing", "new_syn_recv", "bound_inactive"
};

static const char *state_name (unsigned int st) {
  return st < sizeof state_names / sizeof state_names[0] ? state_names[st] : "?";
}

static const char *type_name (unsigned int type) {
  switch (type) {
    case SOCK_STREAM: return "stream";
    case SOCK_DGRAM: return "dgram";
    case SOCK_SEQPACKET: return "seqpacket";
    case SOCK_RAW: return "raw";
    default: return "?";
  }
}

typedef struct dump {
  lua_State *L;
  int tbl;
  const kind *k;
  unsigned int own_portid;      /* our own sock_diag socket, left out */
} dump;

static void set_str (lua_State *L, const char *key, const char *v) {
  lua_pushstring(L, v);
  lua_setfield(L, -2, key);
}

static void set_int (lua_State *L, const char *key, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, key);
}

/* The list entry every kind starts with: {family, kind, inode}. */
static void entry (dump *d, unsigned int inode) {
  lua_createtable(d->L, 0, 6);
  set_str(d->L, "kind", d->k->name);
  set_str(d->L, "family", d->k->family == AF_UNIX ? "unix" : d->k->family == AF_INET ? "inet" :
          d->k->family == AF_INET6 ? "inet6" : d->k->family == AF_NETLINK ? "netlink" : "packet");
  set_int(d->L, "inode", inode);
}

static void append (dump *d) {
  lua_rawseti(d->L, d->tbl, (lua_Integer)lua_rawlen(d->L, d->tbl) + 1);
}

static int unix_cb (const struct nlmsghdr *nlh, void *data) {
  dump *d = (dump *)((nltalk *)data)->user;
  const struct unix_diag_msg *m = (const struct unix_diag_msg *)mnl_nlmsg_get_payload(nlh);
  const struct nlattr *a;
  if (nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY || mnl_nlmsg_get_payload_len(nlh) < sizeof *m)
    return MNL_CB_OK;
  entry(d, m->udiag_ino);
  set_str(d->L, "type", type_name(m->udiag_type));
  set_str(d->L, "state", state_name(m->udiag_state));
  mnl_attr_for_each(a, nlh, sizeof *m) {
    if (mnl_attr_get_type(a) == UNIX_DIAG_NAME && mnl_attr_get_payload_len(a) > 0) {
      /* an abstract name starts with NUL: shown with '@', as ss does */
      const char *p = (const char *)mnl_attr_get_payload(a);
      size_t n = mnl_attr_get_payload_len(a);
      if (p[0] == '\0') {
        lua_pushliteral(d->L, "@");
        lua_pushlstring(d->L, p + 1, n - 1);
        lua_concat(d->L, 2);
      } else {
        lua_pushlstring(d->L, p, strnlen(p, n));
      }
      lua_setfield(d->L, -2, "name");
    }
  }
  append(d);
  return MNL_CB_OK;
}

static int inet_cb (const struct nlmsghdr *nlh, void *data) {
  dump *d = (dump *)((nltalk *)data)->user;
  const struct inet_diag_msg *m = (const struct inet_diag_msg *)mnl_nlmsg_get_payload(nlh);
  const char *proto;
  if (nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY || mnl_nlmsg_get_payload_len(nlh) < sizeof *m)
    return MNL_CB_OK;
  entry(d, m->idiag_inode);
  switch (d->k->protocol) {
    case IPPROTO_TCP: proto = "tcp"; break;
    case IPPROTO_UDP: proto = "udp"; break;
    case IPPROTO_UDPLITE: proto = "udplite"; break;
    case IPPROTO_SCTP: proto = "sctp"; break;
    default: proto = "raw"; break;
  }
  set_str(d->L, "protocol", proto);
  set_str(d->L, "state", state_name(m->idiag_state));
  set_int(d->L, "port", ntohs(m->id.idiag_sport));
  set_int(d->L, "peer_port", ntohs(m->id.idiag_dport));
  set_int(d->L, "uid", m->idiag_uid);
  append(d);
  return MNL_CB_OK;
}

static int netlink_cb (const struct nlmsghdr *nlh, void *data) {
  dump *d = (dump *)((nltalk *)data)->user;
  const struct netlink_diag_msg *m = (const struct netlink_diag_msg *)mnl_nlmsg_get_payload(nlh);
  if (nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY || mnl_nlmsg_get_payload_len(nlh) < sizeof *m)
    return MNL_CB_OK;
  /* portid 0: the kernel's own socket of each protocol; and ours */
  if (m->ndiag_portid == 0 ||
      (m->ndiag_protocol == NETLINK_SOCK_DIAG && m->ndiag_portid == d->own_portid))
    return MNL_CB_OK;
  entry(d, m->ndiag_ino);
  set_int(d->L, "protocol", m->ndiag_protocol);
  set_int(d->L, "portid", m->ndiag_portid);
  append(d);
  return MNL_CB_OK;
}

static int packet_cb (const struct nlmsghdr *nlh, void *data) {
  dump *d = (dump *)((nltalk *)data)->user;
  const struct packet_diag_msg *m = (const struct packet_diag_msg *)mnl_nlmsg_get_payload(nlh);
  if (nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY || mnl_nlmsg_get_payload_len(nlh) < sizeof *m)
    return MNL_CB_OK;
  entry(d, m->pdiag_ino);
  set_str(d->L, "type", type_name(m->pdiag_type));
  set_int(d->L, "protocol", ntohs(m->pdiag_num));
  append(d);
  return MNL_CB_OK;
}

/* The dump request of kind 'k' in 'buf'; every state (TIME_WAIT, SYN_RECV
** and, since Linux 6.7, bound-only TCP sockets included). */
static struct nlmsghdr *put_request (char *buf, const kind *k) {
  struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  switch (k->family) {
    case AF_UNIX: {
      struct unix_diag_req *r = (struct unix_diag_req *)mnl_nlmsg_put_extra_header(nlh, sizeof *r);
      r->sdiag_family = AF_UNIX;
      r->udiag_states = ~0U;
      r->udiag_show = UDIAG_SHOW_NAME;
      break;
    }
    case AF_NETLINK: {
      struct netlink_diag_req *r =
        (struct netlink_diag_req *)mnl_nlmsg_put_extra_header(nlh, sizeof *r);
      r->sdiag_family = AF_NETLINK;
      r->sdiag_protocol = NDIAG_PROTO_ALL;
      break;
    }
    case AF_PACKET: {
      struct packet_diag_req *r = (struct packet_diag_req *)mnl_nlmsg_put_extra_header(nlh, sizeof *r);
      r->sdiag_family = AF_PACKET;
      break;
    }
    default: {
      struct inet_diag_req_v2 *r =
        (struct inet_diag_req_v2 *)mnl_nlmsg_put_extra_header(nlh, sizeof *r);
      r->sdiag_family = (unsigned char)k->family;
      r->sdiag_protocol = (unsigned char)k->protocol;
      r->idiag_states = ~0U;
      /* raw_diag reads the raw protocol from the pad byte; 0 is every one */
      break;
    }
  }
  return nlh;
}

static int (*const callbacks[]) (const struct nlmsghdr *, void *) = {
  unix_cb, inet_cb, netlink_cb, packet_cb
};

static int callback_of (const kind *k) {
  return k->family == AF_UNIX ? 0 : k->family == AF_NETLINK ? 2 : k->family == AF_PACKET ? 3 : 1;
}

/*
** netlink.sockets([netns]) -> list | nil, msg, errno
** Every socket of the network namespace 'netns' (fd box, integer fd or
** {pid = n}; nil: the caller's): unix (any state, bound or not), TCP (every
** state: listening, connected, TIME_WAIT, FIN_WAIT, SYN_RECV, bound only),
** UDP, UDP-Lite, raw and SCTP over IPv4 and IPv6, netlink (the kernel's
** own and this call's left out) and packet.  Each entry: kind ("unix",
** "tcp", "tcp6", "udp", ...), family, inode, and what the kind has: state,
** type (unix, packet), name (unix; '@' starts an abstract name), port and
** peer_port, protocol, uid (inet), portid (netlink).  A kind whose diag
** handler this kernel lacks is skipped when it is optional (raw, SCTP,
** UDP-Lite, netlink, packet).  When the namespace's socket counters
** (/proc/net/sockstat, sockstat6) are all zero the list is empty without a
** dump.
*/
static int netlink_sockets (lua_State *L) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlsock *s;
  nltalk t;
  dump d;
  gate g;
  size_t i;
  int err = 0;
  lua_settop(L, 1);
  g.known = 0;
  s = nslua_nl_open_at(L, 1, NETLINK_SOCK_DIAG, read_gate, &g);   /* 2: the box (GC-owned) */
  if (s == NULL)
    return 3;
  lua_newtable(L);                                     /* 3: the list */
  if (s->nl == NULL)                                   /* nothing to dump */
    return 1;
  d.L = L;
  d.tbl = 3;
  d.own_portid = s->portid;
  for (i = 0; i < NKINDS; i++) {
    const kind *k = &kinds[i];
    if (absent & (1U << i))
      continue;
    d.k = k;
    t.user = &d;
    err = nslua_nl_talk(s, put_request(buf, k), callbacks[callback_of(k)], &t);
    t.user = NULL;
    if (err == ENOENT && k->optional != REQUIRED) {
      if (k->optional == ONCE)
        absent |= 1U << i;
      err = 0;
    }
    if (err != 0)
      break;
  }
  nslua_nl_close(s);
  if (err != 0)
    return nslua_nl_fail(L, err, "sock_diag", i < NKINDS ? kinds[i].name : NULL, &t);
  return 1;
}

const luaL_Reg nslua_netlink_diag_funcs[] = {
  {"sockets", netlink_sockets},
  {NULL, NULL}
};
