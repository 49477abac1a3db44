/* caps.c - capabilities (libcap): get, set, bounding set, ambient set, keep. */
/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>

#include "nslua.h"

/*
** Capability sets travel through C as 64-bit masks, bit n = capability n.
** The kernel has 41 today (CAP_CHECKPOINT_RESTORE = 40); the capability
** ABI (v3) has room for 64.  cap_max_bits() is the number the running
** kernel supports (libcap reads /proc/sys/kernel/cap_last_cap), capped
** here at 64.
*/
typedef uint64_t capmask;

static int max_bits (void) {
  int n = (int)cap_max_bits();
  return n > 64 ? 64 : n;
}

static capmask all_caps (void) {
  int n = max_bits();
  return n >= 64 ? ~(capmask)0 : (((capmask)1 << n) - 1);
}

/*
** The canonical, lower-case libcap name of 'v' into 'buf' (libcap prints
** a number for a capability it has no name for).  cap_to_name allocates:
** the copy is freed before the caller touches Lua.
*/
static void cap_name (cap_value_t v, char *buf, size_t size) {
  char *s = cap_to_name(v);
  if (s == NULL)
    snprintf(buf, size, "%d", (int)v);
  else {
    snprintf(buf, size, "%s", s);
    cap_free(s);
  }
}

/*
** A capability name as the user wrote it -> its number.  "net_bind_service",
** "cap_net_bind_service" and "CAP_NET_BIND_SERVICE" are the same; libcap
** matches case-insensitively but needs the prefix.  Numbers are refused
** (cap_from_name would take "10"): the prefix is always added first.  An
** unknown name is misuse and raises, naming the prefixed form.
*/
static cap_value_t check_capname (lua_State *L, int arg, const char *name) {
  char buf[64];
  size_t i, len = strlen(name);
  cap_value_t v;
  int prefixed = len >= 4 && strncasecmp(name, "cap_", 4) == 0;
  if (len == 0 || len + 4 >= sizeof buf)
    luaL_argerror(L, arg, lua_pushfstring(L, "unknown capability '%s'", name));
  snprintf(buf, sizeof buf, "%s%s", prefixed ? "" : "cap_", name);
  for (i = 0; buf[i] != '\0'; i++)
    buf[i] = (char)tolower((unsigned char)buf[i]);
  if (cap_from_name(buf, &v) != 0 || v < 0 || v >= 64)
    luaL_argerror(L, arg, lua_pushfstring(L, "unknown capability '%s'", buf));
  return v;
}

/*
** A list of capability names at stack index 'idx' (or, with 'all_ok', the
** string "all"); errors blame argument 'arg'.
*/
static capmask check_caplist (lua_State *L, int idx, int arg, int all_ok) {
  capmask m = 0;
  lua_Integer i, n;
  if (all_ok && lua_type(L, idx) == LUA_TSTRING) {
    luaL_argcheck(L, strcmp(lua_tostring(L, idx), "all") == 0, arg,
                  "expected a list of capability names or \"all\"");
    return all_caps();
  }
  if (idx == arg)
    luaL_checktype(L, arg, LUA_TTABLE);
  n = (lua_Integer)lua_rawlen(L, idx);
  for (i = 1; i <= n; i++) {
    if (lua_rawgeti(L, idx, i) != LUA_TSTRING)
      luaL_argerror(L, arg, "capability names must be strings");
    m |= (capmask)1 << check_capname(L, arg, lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  return m;
}

/* Push the names of the bits of 'm' as a list, in capability order. */
static void push_capset (lua_State *L, capmask m) {
  int v, n = 0;
  lua_newtable(L);
  for (v = 0; v < 64; v++) {
    char buf[64];
    if (!(m & ((capmask)1 << v)))
      continue;
    cap_name(v, buf, sizeof buf);
    lua_pushstring(L, buf);
    lua_rawseti(L, -2, ++n);
  }
}

/* The bits of 'flag' set in 'c'. */
static capmask flag_bits (cap_t c, cap_flag_t flag) {
  capmask m = 0;
  int v, n = max_bits();
  for (v = 0; v < n; v++) {
    cap_flag_value_t fv = CAP_CLEAR;
    if (cap_get_flag(c, v, flag, &fv) == 0 && fv == CAP_SET)
      m |= (capmask)1 << v;
  }
  return m;
}

/*
** caps.get([pid]) -> {effective = {names}, permitted = {...}, inheritable = {...},
**                     bounding = {...}, ambient = {...}} | nil, msg, errno
** bounding and ambient are per-thread prctl reads: only for the caller
** (no pid).  With a pid, capget(2) gives the three classic sets.
*/
static int caps_get (lua_State *L) {
  int self = lua_isnoneornil(L, 1);
  lua_Integer pid = self ? 0 : luaL_checkinteger(L, 1);
  capmask eff, prm, inh, bnd = 0, amb = 0;
  char subject[32];
  cap_t c;
  int v, n;

  luaL_argcheck(L, pid >= 0 && pid <= 0x7fffffff, 1, "pid out of range");
  snprintf(subject, sizeof subject, "%lld", (long long)pid);
  c = self ? cap_get_proc() : cap_get_pid((pid_t)pid);
  if (c == NULL)
    return nslua_fail(L, errno, self ? "cap_get_proc" : "cap_get_pid",
                      self ? NULL : subject);
  eff = flag_bits(c, CAP_EFFECTIVE);
  prm = flag_bits(c, CAP_PERMITTED);
  inh = flag_bits(c, CAP_INHERITABLE);
  cap_free(c);
  if (self) {
    n = max_bits();
    for (v = 0; v < n; v++) {
      if (cap_get_bound(v) > 0)
        bnd |= (capmask)1 << v;
      if (cap_get_ambient(v) > 0)
        amb |= (capmask)1 << v;
    }
  }
  lua_createtable(L, 0, 5);
  push_capset(L, eff);
  lua_setfield(L, -2, "effective");
  push_capset(L, prm);
  lua_setfield(L, -2, "permitted");
  push_capset(L, inh);
  lua_setfield(L, -2, "inheritable");
  if (self) {
    push_capset(L, bnd);
    lua_setfield(L, -2, "bounding");
    push_capset(L, amb);
    lua_setfield(L, -2, "ambient");
  }
  return 1;
}

/* caps.names() -> {"cap_chown", ...}: every capability the kernel supports. */
static int caps_names (lua_State *L) {
  push_capset(L, all_caps());
  return 1;
}

/*
** caps.parse{"net_bind_service", "CAP_SYS_ADMIN"} -> {"cap_net_bind_service", ...}
** Canonical names, first occurrence order, duplicates removed; an unknown
** name raises.
*/
static int caps_parse (lua_State *L) {
  capmask seen = 0;
  lua_Integer i, n;
  int k = 0;
  luaL_checktype(L, 1, LUA_TTABLE);
  n = (lua_Integer)lua_rawlen(L, 1);
  lua_createtable(L, (int)n, 0);
  for (i = 1; i <= n; i++) {
    char buf[64];
    cap_value_t v;
    if (lua_rawgeti(L, 1, i) != LUA_TSTRING)
      luaL_argerror(L, 1, "capability names must be strings");
    v = check_capname(L, 1, lua_tostring(L, -1));
    lua_pop(L, 1);
    if (seen & ((capmask)1 << v))
      continue;
    seen |= (capmask)1 << v;
    cap_name(v, buf, sizeof buf);
    lua_pushstring(L, buf);
    lua_rawseti(L, -2, ++k);
  }
  return 1;
}

/* Read an optional list field of the table at 1 (nil = the empty set). */
static capmask opt_field (lua_State *L, const char *field) {
  capmask m = 0;
  if (lua_getfield(L, 1, field) != LUA_TNIL) {
    if (!lua_istable(L, -1))
      luaL_argerror(L, 1, lua_pushfstring(L, "field '%s' must be a list of names", field));
    m = check_caplist(L, lua_gettop(L), 1, 0);
  }
  lua_pop(L, 1);
  return m;
}

/* Set the three classic sets of 'c' from masks. */
static int fill_caps (cap_t c, capmask eff, capmask prm, capmask inh) {
  cap_value_t v;
  for (v = 0; v < 64; v++) {
    if ((eff & ((capmask)1 << v)) && cap_set_flag(c, CAP_EFFECTIVE, 1, &v, CAP_SET) != 0)
      return -1;
    if ((prm & ((capmask)1 << v)) && cap_set_flag(c, CAP_PERMITTED, 1, &v, CAP_SET) != 0)
      return -1;
    if ((inh & ((capmask)1 << v)) && cap_set_flag(c, CAP_INHERITABLE, 1, &v, CAP_SET) != 0)
      return -1;
  }
  return 0;
}

/* cap_set_proc with exactly these sets; 0 or an errno. */
static int set_proc (capmask eff, capmask prm, capmask inh) {
  int err = 0;
  cap_t c = cap_init();
  if (c == NULL)
    return errno != 0 ? errno : ENOMEM;
  if (fill_caps(c, eff, prm, inh) != 0 || cap_set_proc(c) != 0)
    err = errno;
  cap_free(c);
  return err;
}

/*
** caps.set{effective = {...}, permitted = {...}, inheritable = {...}}
**   -> true | nil, msg, errno
** Replaces all three sets (a missing field is the empty set).  Raising a
** capability that is not in the permitted set fails with EPERM (capset(2)).
*/
static int caps_set (lua_State *L) {
  capmask eff, prm, inh;
  int err;
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, 1) != 0) {
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
    if (k == NULL || (strcmp(k, "effective") != 0 && strcmp(k, "permitted") != 0
                      && strcmp(k, "inheritable") != 0))
      luaL_argerror(L, 1, "valid fields: effective permitted inheritable");
    lua_pop(L, 1);
  }
  eff = opt_field(L, "effective");
  prm = opt_field(L, "permitted");
  inh = opt_field(L, "inheritable");
  err = set_proc(eff, prm, inh);
  if (err != 0)
    return nslua_fail(L, err, "cap_set_proc", NULL);
  return nslua_ok(L);
}

/*
** Drop every capability of 'm' from the bounding set.  Ones already out of
** it are skipped, so a process without CAP_SETPCAP can still "drop" what it
** no longer has.  0, or the errno with the failing capability in 'fail'.
*/
static int drop_bound (capmask m, cap_value_t *fail) {
  int v, n = max_bits();
  for (v = 0; v < n; v++) {
    if (!(m & ((capmask)1 << v)) || cap_get_bound(v) == 0)
      continue;
    if (cap_drop_bound(v) != 0) {
      *fail = v;
      return errno;
    }
  }
  return 0;
}

/*
** caps.drop_bound{"sys_admin", ...} | caps.drop_bound("all") -> true | nil, msg, errno
** PR_CAPBSET_DROP needs CAP_SETPCAP in the effective set.
*/
static int caps_drop_bound (lua_State *L) {
  capmask m = check_caplist(L, 1, 1, 1);
  cap_value_t v = 0;
  char name[64];
  int err = drop_bound(m, &v);
  if (err != 0) {
    cap_name(v, name, sizeof name);
    return nslua_fail(L, err, "cap_drop_bound", name);
  }
  return nslua_ok(L);
}

/*
** caps.ambient("net_bind_service", true|false) -> true | nil, msg, errno
** Raising needs the capability in both the permitted and inheritable sets
** (EPERM otherwise, prctl(2) PR_CAP_AMBIENT_RAISE).
*/
static int caps_ambient (lua_State *L) {
  cap_value_t v = check_capname(L, 1, luaL_checkstring(L, 1));
  int on;
  char name[64];
  luaL_checktype(L, 2, LUA_TBOOLEAN);
  on = lua_toboolean(L, 2);
  if (cap_set_ambient(v, on ? CAP_SET : CAP_CLEAR) != 0) {
    int err = errno;
    cap_name(v, name, sizeof name);
    return nslua_fail(L, err, "cap_set_ambient", name);
  }
  return nslua_ok(L);
}

/* caps.ambient_reset() -> true | nil, msg, errno */
static int caps_ambient_reset (lua_State *L) {
  if (cap_reset_ambient() != 0)
    return nslua_fail(L, errno, "cap_reset_ambient", NULL);
  return nslua_ok(L);
}

/*
** caps.keep{"net_bind_service", ...} -> true | nil, msg, errno
** Keep exactly these capabilities, for this process and what it execs:
**   1. drop every other capability from the bounding set (needs
**      CAP_SETPCAP, so this comes first, while it is still effective);
**   2. permitted = effective = inheritable = kept (capset);
**   3. ambient = kept, so they survive execve of a non-root, non-file-caps
**      program (Linux 4.3+).  Ambient needs P and I, set in step 2.
** This is what proc.exec does in C before execve.  The failure message
** names the step's libcap call.
*/
static int caps_keep (lua_State *L) {
  capmask keep = check_caplist(L, 1, 1, 0);
  cap_value_t v = 0;
  const char *what = "cap_drop_bound";
  int named = 1, n = max_bits();
  char name[64];
  int err = drop_bound(all_caps() & ~keep, &v);

  if (err == 0 && (err = set_proc(keep, keep, keep)) != 0) {
    what = "cap_set_proc";
    named = 0;
  }
  if (err == 0 && cap_reset_ambient() != 0) {
    err = errno;
    what = "cap_reset_ambient";
    named = 0;
  }
  for (v = 0; err == 0 && v < n; v++) {
    if ((keep & ((capmask)1 << v)) && cap_set_ambient(v, CAP_SET) != 0) {
      err = errno;
      what = "cap_set_ambient";
      break;
    }
  }
  if (err != 0) {
    if (!named)
      return nslua_fail(L, err, what, NULL);
    cap_name(v, name, sizeof name);
    return nslua_fail(L, err, what, name);
  }
  return nslua_ok(L);
}

/*
** caps.effective(on) -> true | nil, msg, errno
** on = false: the effective set empty, permitted and inheritable kept, so
** what the process does next is checked against its ids alone (a root
** process opening a path for another user, with that user's fs ids, must
** not pass a check through CAP_DAC_* or CAP_SYS_PTRACE: /proc/PID/cwd);
** on = true: effective = permitted again.
*/
static int caps_effective (lua_State *L) {
  int on, n = max_bits(), err = 0;
  cap_value_t v;
  cap_flag_value_t val;
  cap_t c;
  luaL_checktype(L, 1, LUA_TBOOLEAN);
  on = lua_toboolean(L, 1);
  c = cap_get_proc();
  if (c == NULL)
    return nslua_fail(L, errno, "cap_get_proc", NULL);
  if (cap_clear_flag(c, CAP_EFFECTIVE) != 0)
    err = errno;
  for (v = 0; err == 0 && on && v < n; v++) {
    if (cap_get_flag(c, v, CAP_PERMITTED, &val) != 0
        || (val == CAP_SET && cap_set_flag(c, CAP_EFFECTIVE, 1, &v, CAP_SET) != 0))
      err = errno;
  }
  if (err == 0 && cap_set_proc(c) != 0)
    err = errno;
  cap_free(c);
  if (err != 0)
    return nslua_fail(L, err, "cap_set_proc", NULL);
  return nslua_ok(L);
}

static const luaL_Reg caps_funcs[] = {
  {"ambient", caps_ambient},
  {"ambient_reset", caps_ambient_reset},
  {"drop_bound", caps_drop_bound},
  {"effective", caps_effective},
  {"get", caps_get},
  {"keep", caps_keep},
  {"names", caps_names},
  {"parse", caps_parse},
  {"set", caps_set},
  {NULL, NULL}
};

int nslua_open_caps (lua_State *L) {
  luaL_newlib(L, caps_funcs);
  return 1;
}
