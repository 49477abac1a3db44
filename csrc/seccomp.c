/* seccomp.c - seccomp filters: compile a profile to BPF (libseccomp), load it. */
/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nslua.h"

/*
** The kernel refuses a filter longer than BPF_MAXINSNS (4096) instructions
** (seccomp_prepare_filter, EINVAL).  compile() exports into a buffer of that
** size allocated before libseccomp is touched, so no Lua call can raise
** while a filter context or the memfd is live.
*/
#define SC_MAXINSNS BPF_MAXINSNS
#define SC_STUBLEN 6
#define SC_MAXARCHES 16
/* x32 syscalls arrive with AUDIT_ARCH_X86_64 and this bit set in nr */
#define SC_X32_BIT 0x40000000u

typedef struct sc_rule {
  int nr;                      /* native number; < 0: a libseccomp pseudo number */
  int by_number;               /* given as nr: means the native arch only */
  uint32_t action;
  unsigned int nargs;
  struct scmp_arg_cmp args[6];
  char label[40];              /* the name or number, for messages */
} sc_rule;

typedef struct sc_profile {
  uint32_t def, badarch, above;
  int has_above;
  int narches;
  uint32_t arches[SC_MAXARCHES];
} sc_profile;

/* Raise "bad argument #1 to 'compile' (<where>: <msg>)". */
static int bad_profile (lua_State *L, const char *where, const char *fmt, ...) {
  va_list ap;
  const char *msg;
  va_start(ap, fmt);
  msg = lua_pushvfstring(L, fmt, ap);
  va_end(ap);
  return luaL_argerror(L, 1, lua_pushfstring(L, "%s: %s", where, msg));
}

/* An integer field of the table at 't' in [lo, hi]; 'def' when nil. */
static lua_Integer int_field (lua_State *L, int t, const char *field, lua_Integer def,
                              lua_Integer lo, lua_Integer hi, const char *where) {
  lua_Integer v = def;
  int isint;
  if (lua_getfield(L, t, field) != LUA_TNIL) {
    v = lua_tointegerx(L, -1, &isint);
    if (!isint || lua_type(L, -1) != LUA_TNUMBER)
      bad_profile(L, where, "field '%s' must be an integer", field);
    if (v < lo || v > hi)
      bad_profile(L, where, "field '%s' out of range", field);
  }
  lua_pop(L, 1);
  return v;
}

static const char *const act_names[] = {
  "allow", "enosys", "errno", "kill", "kill_process", "kill_thread", "log",
  "trace", "trap", "notify", NULL
};

/*
** The action in field 'field' of the table at 't':
**   "allow" | "errno" (errno = N beside it, default EPERM) | {errno = N} |
**   "enosys" (= {errno = ENOSYS}) | "kill" (= kill_process) | "kill_process" |
**   "kill_thread" | "trap" | "log" | "trace" | {trace = N} | "notify".
** "notify" (SECCOMP_RET_USER_NOTIF) is for the filter nslua.seccomp builds
** for a profile's Lua handlers, never a profile's own word.
** "kill" kills the whole process: SECCOMP_RET_KILL_THREAD (libseccomp's
** SCMP_ACT_KILL) leaves the other threads of a payload running.
** 'def' is used when the field is nil.
*/
static uint32_t check_action (lua_State *L, int t, const char *field, uint32_t def,
                              const char *where) {
  uint32_t act = def;
  int ty = lua_getfield(L, t, field);
  if (ty == LUA_TTABLE) {
    int top = lua_gettop(L);
    int has_errno = lua_getfield(L, top, "errno") != LUA_TNIL;
    int has_trace = lua_getfield(L, top, "trace") != LUA_TNIL;
    lua_pop(L, 2);
    if (has_errno == has_trace)
      bad_profile(L, where, "field '%s': a table action is {errno = N} or {trace = N}",
                  field);
    if (has_errno)
      act = SCMP_ACT_ERRNO((uint32_t)int_field(L, top, "errno", 0, 0, 4095, where));
    else
      act = SCMP_ACT_TRACE((uint32_t)int_field(L, top, "trace", 0, 0, 65535, where));
  } else if (ty == LUA_TSTRING) {
    const char *name = lua_tostring(L, -1);
    int i;
    for (i = 0; act_names[i] != NULL && strcmp(act_names[i], name) != 0; i++)
      ;
    switch (i) {
      case 0: act = SCMP_ACT_ALLOW; break;
      case 1: act = SCMP_ACT_ERRNO(ENOSYS); break;
      case 2:
        act = SCMP_ACT_ERRNO((uint32_t)int_field(L, t, "errno", EPERM, 0, 4095, where));
        break;
      case 3: case 4: act = SCMP_ACT_KILL_PROCESS; break;
      case 5: act = SCMP_ACT_KILL_THREAD; break;
      case 6: act = SCMP_ACT_LOG; break;
      case 7: act = SCMP_ACT_TRACE(0); break;
      case 8: act = SCMP_ACT_TRAP; break;
      case 9: act = SCMP_ACT_NOTIFY; break;
      default:
        bad_profile(L, where, "unknown action '%s' (valid: allow enosys errno kill "
                    "kill_process kill_thread log trace trap)", name);
    }
  } else if (ty != LUA_TNIL)
    bad_profile(L, where, "field '%s' must be an action (string or table)", field);
  lua_pop(L, 1);
  return act;
}

static const char *const op_names[] = {
  "ne", "lt", "le", "eq", "ge", "gt", "masked_eq", NULL
};
static const enum scmp_compare op_values[] = {
  SCMP_CMP_NE, SCMP_CMP_LT, SCMP_CMP_LE, SCMP_CMP_EQ, SCMP_CMP_GE, SCMP_CMP_GT,
  SCMP_CMP_MASKED_EQ
};

/*
** args = {{index = 0..5, op = "eq", value = n [, mask = n]}, ...} of the rule
** at 't' into 'r'.  Values are 64-bit: a negative Lua integer is its two's
** complement.  Remember that the kernel hands the filter whole registers,
** while many syscalls read an int: compare an int argument with
** masked_eq and mask 0xffffffff, or a caller can hide a value in the upper
** half.
*/
static void check_args (lua_State *L, int t, sc_rule *r, const char *where) {
  lua_Integer i, n;
  int a;
  if (lua_getfield(L, t, "args") == LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  a = lua_gettop(L);
  if (!lua_istable(L, a))
    bad_profile(L, where, "field 'args' must be a list");
  n = (lua_Integer)lua_rawlen(L, a);
  if (n > 6)
    bad_profile(L, where, "at most 6 argument comparisons");
  for (i = 1; i <= n; i++) {
    const char *w = lua_pushfstring(L, "%s.args[%d]", where, (int)i);
    int e = lua_gettop(L) + 1, op = -1, isint;
    lua_Integer idx, value, mask = 0;
    if (lua_rawgeti(L, a, i) != LUA_TTABLE)
      bad_profile(L, w, "must be a table");
    idx = int_field(L, e, "index", -1, 0, 5, w);
    if (idx < 0)
      bad_profile(L, w, "field 'index' (0..5) is required");
    if (lua_getfield(L, e, "op") == LUA_TSTRING) {
      const char *name = lua_tostring(L, -1);
      for (op = 0; op_names[op] != NULL && strcmp(op_names[op], name) != 0; op++)
        ;
      if (op_names[op] == NULL)
        bad_profile(L, w, "unknown op '%s' (valid: eq ne lt le gt ge masked_eq)", name);
    } else
      bad_profile(L, w, "field 'op' (eq ne lt le gt ge masked_eq) is required");
    lua_pop(L, 1);
    lua_getfield(L, e, "value");
    value = lua_tointegerx(L, -1, &isint);
    if (!isint || lua_type(L, -1) != LUA_TNUMBER)
      bad_profile(L, w, "field 'value' must be an integer");
    lua_pop(L, 1);
    lua_getfield(L, e, "mask");
    if (op_values[op] == SCMP_CMP_MASKED_EQ) {
      mask = lua_tointegerx(L, -1, &isint);
      if (!isint || lua_type(L, -1) != LUA_TNUMBER)
        bad_profile(L, w, "op 'masked_eq' needs an integer field 'mask'");
    } else if (!lua_isnil(L, -1))
      bad_profile(L, w, "field 'mask' is only for op 'masked_eq'");
    lua_pop(L, 1);
    r->args[r->nargs].arg = (unsigned int)idx;
    r->args[r->nargs].op = op_values[op];
    /* libseccomp: datum_a is the mask for masked_eq, else the value */
    r->args[r->nargs].datum_a = (scmp_datum_t)(op_values[op] == SCMP_CMP_MASKED_EQ ? mask : value);
    r->args[r->nargs].datum_b = (scmp_datum_t)(op_values[op] == SCMP_CMP_MASKED_EQ ? value : 0);
    r->nargs++;
    lua_pop(L, 2);  /* the entry and 'w' */
  }
  lua_pop(L, 1);
}

/* The syscall named at the top of the stack (a string) or numbered (an integer). */
static int check_syscall (lua_State *L, const char *where, char *label, size_t size) {
  int nr;
  if (lua_type(L, -1) == LUA_TSTRING) {
    const char *name = lua_tostring(L, -1);
    nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR)
      bad_profile(L, where, "unknown syscall '%s'", name);
    snprintf(label, size, "%s", name);
  } else {
    int isint;
    lua_Integer v = lua_tointegerx(L, -1, &isint);
    if (!isint || lua_type(L, -1) != LUA_TNUMBER || v < 0 || v >= (lua_Integer)SC_X32_BIT)
      bad_profile(L, where, "a syscall is a name or a number in 0..0x3fffffff");
    nr = (int)v;
    snprintf(label, size, "%d", nr);
  }
  return nr;
}

/*
** The number of rules the entries of 'syscalls' expand to: one per name.
** Also checks the entry shapes, so the filling pass cannot meet surprises.
*/
static size_t count_rules (lua_State *L, int s) {
  lua_Integer i, n = (lua_Integer)lua_rawlen(L, s);
  size_t total = 0;
  for (i = 1; i <= n; i++) {
    const char *w = lua_pushfstring(L, "syscalls[%d]", (int)i);
    int e = lua_gettop(L) + 1, given = 0;
    if (lua_rawgeti(L, s, i) != LUA_TTABLE)
      bad_profile(L, w, "must be a table");
    if (lua_getfield(L, e, "names") != LUA_TNIL) {
      if (!lua_istable(L, -1))
        bad_profile(L, w, "field 'names' must be a list");
      total += lua_rawlen(L, -1);
      given++;
    }
    if (lua_getfield(L, e, "name") != LUA_TNIL) {
      if (lua_type(L, -1) != LUA_TSTRING)
        bad_profile(L, w, "field 'name' must be a string");
      total++;
      given++;
    }
    if (lua_getfield(L, e, "nr") != LUA_TNIL) {
      total++;
      given++;
    }
    if (given != 1)
      bad_profile(L, w, "give exactly one of 'names', 'name' or 'nr'");
    lua_pop(L, 5);
  }
  return total;
}

/* Fill 'rules' from the entries of 'syscalls' at 's'; returns the count. */
static size_t fill_rules (lua_State *L, int s, sc_rule *rules, uint32_t def) {
  lua_Integer i, n = (lua_Integer)lua_rawlen(L, s);
  size_t k = 0;
  for (i = 1; i <= n; i++) {
    const char *w = lua_pushfstring(L, "syscalls[%d]", (int)i);
    int e = lua_gettop(L) + 1;
    sc_rule proto;
    lua_rawgeti(L, s, i);
    memset(&proto, 0, sizeof proto);
    proto.action = check_action(L, e, "action", def, w);
    check_args(L, e, &proto, w);
    if (lua_getfield(L, e, "names") != LUA_TNIL) {
      lua_Integer j, m = (lua_Integer)lua_rawlen(L, -1);
      int names = lua_gettop(L);
      for (j = 1; j <= m; j++) {
        lua_rawgeti(L, names, j);
        if (lua_type(L, -1) != LUA_TSTRING)
          bad_profile(L, w, "field 'names' must hold strings");
        rules[k] = proto;
        rules[k].nr = check_syscall(L, w, rules[k].label, sizeof rules[k].label);
        k++;
        lua_pop(L, 1);
      }
    } else {
      lua_pop(L, 1);
      rules[k] = proto;
      if (lua_getfield(L, e, "name") == LUA_TNIL) {
        lua_pop(L, 1);
        lua_getfield(L, e, "nr");
        rules[k].by_number = 1;
      }
      rules[k].nr = check_syscall(L, w, rules[k].label, sizeof rules[k].label);
      k++;
    }
    lua_pop(L, 3);  /* names/name/nr, the entry, 'w' */
  }
  return k;
}

/* profile.arches = {"native", "x86", "x32", ...} into 'p'. */
static void check_arches (lua_State *L, sc_profile *p) {
  lua_Integer i, n;
  p->narches = 0;
  if (lua_getfield(L, 1, "arches") == LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  if (!lua_istable(L, -1))
    bad_profile(L, "arches", "must be a list of architecture names");
  n = (lua_Integer)lua_rawlen(L, -1);
  for (i = 1; i <= n; i++) {
    const char *name;
    uint32_t tok;
    if (lua_rawgeti(L, -1, i) != LUA_TSTRING)
      bad_profile(L, "arches", "must hold strings");
    name = lua_tostring(L, -1);
    if (strcmp(name, "native") == 0)
      tok = seccomp_arch_native();
    else if ((tok = seccomp_arch_resolve_name(name)) == 0)
      bad_profile(L, "arches", "unknown architecture '%s'", name);
    lua_pop(L, 1);
    if (tok == seccomp_arch_native())
      continue;
    if (p->narches == SC_MAXARCHES)
      bad_profile(L, "arches", "too many architectures");
    p->arches[p->narches++] = tok;
  }
  lua_pop(L, 1);
}

/*
** The prologue that gives 'above' to every native syscall number above
** 'max' (DESIGN: numbers above the highest the profile knows -> ENOSYS).
** An allow-list answers EPERM for a syscall newer than itself, and libc
** then takes EPERM as a real refusal; ENOSYS makes it fall back, as for an
** old kernel (runc and Docker patch their filters the same way).  It runs
** before libseccomp's program, which reloads arch and nr itself; x32
** numbers (SC_X32_BIT) and other arches go on to libseccomp, which sends
** them to the bad-arch action unless the profile added them.  Jump offsets
** are relative to the next instruction.
*/
static void write_stub (struct sock_filter *f, uint32_t max, uint32_t above) {
  const struct sock_filter stub[SC_STUBLEN] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, seccomp_arch_native(), 0, 4),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
    BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, SC_X32_BIT, 2, 0),
    BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, max, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, above),
  };
  memcpy(f, stub, sizeof stub);
}

/*
** A filter context with the profile's attributes: the native arch alone
** (arches == NULL), or exactly the given other arches.  NULL with *rc set
** (-ENOMEM when seccomp_init fails).
*/
static scmp_filter_ctx new_ctx (const sc_profile *p, const uint32_t *arches, int narches,
                                int *rc) {
  scmp_filter_ctx ctx = seccomp_init(p->def);
  int i;
  *rc = -ENOMEM;
  if (ctx == NULL)
    return NULL;
  *rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, p->badarch);
  /* a binary tree of syscall numbers instead of a linear chain (2.5.0+) */
  if (*rc == 0)
    *rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
  if (*rc == 0 && arches != NULL)
    *rc = seccomp_arch_remove(ctx, SCMP_ARCH_NATIVE);
  for (i = 0; *rc == 0 && i < narches; i++)
    *rc = seccomp_arch_add(ctx, arches[i]);
  if (*rc < 0) {
    seccomp_release(ctx);
    return NULL;
  }
  return ctx;
}

/*
** Add the rules to 'ctx' (native: the native-only context; else the other
** arches').  A rule with the default action is skipped: libseccomp refuses
** it (EACCES), and it could never change a verdict.  0 or -errno, with the
** failing rule's label in *subject.
*/
static int add_rules (scmp_filter_ctx ctx, const sc_rule *rules, size_t n, uint32_t def,
                      int native, const char **subject) {
  size_t i;
  for (i = 0; i < n; i++) {
    int rc;
    if (rules[i].action == def)
      continue;
    if (native ? rules[i].nr < 0 : rules[i].by_number)
      continue;
    rc = seccomp_rule_add_array(ctx, rules[i].action, rules[i].nr, rules[i].nargs,
                                rules[i].args);
    if (rc < 0) {
      *subject = rules[i].label;
      return rc;
    }
  }
  return 0;
}

/*
** seccomp.compile{default = action, syscalls = {...}, arches = {...},
**                 badarch = action, unknown_above = action}
**   -> BPF program (a string of struct sock_filter, 8 bytes each)
**    | nil, msg, errno
** A rule whose action is the default action only documents (and counts for
** unknown_above): libseccomp refuses such rules (EACCES), since they can
** never change a verdict.  Rules naming syscalls the native arch lacks
** (libseccomp pseudo numbers, e.g. "chown32" on x86_64) matter only when
** other arches are added.  The whole profile is read before libseccomp is
** touched: reading raises on misuse.
*/
static int sc_compile (lua_State *L) {
  sc_profile p;
  sc_rule *rules;
  struct sock_filter *out;
  size_t i, n = 0, len = 0, off;
  int nr_max = -1, fd = -1, rc = 0, err = 0, s;
  const char *what = NULL, *subject = NULL;
  scmp_filter_ctx ctx = NULL;
  struct stat st;

  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  p.def = check_action(L, 1, "default", SCMP_ACT_ERRNO(EPERM), "default");
  p.badarch = check_action(L, 1, "badarch", SCMP_ACT_KILL_PROCESS, "badarch");
  p.has_above = lua_getfield(L, 1, "unknown_above") != LUA_TNIL;
  lua_pop(L, 1);
  p.above = check_action(L, 1, "unknown_above", 0, "unknown_above");
  check_arches(L, &p);
  s = lua_getfield(L, 1, "syscalls") != LUA_TNIL ? lua_gettop(L) : 0;
  if (s != 0 && !lua_istable(L, s))
    bad_profile(L, "syscalls", "must be a list");
  n = s != 0 ? count_rules(L, s) : 0;
  rules = (sc_rule *)lua_newuserdatauv(L, (n + 1) * sizeof *rules, 0);
  if (s != 0)
    n = fill_rules(L, s, rules, p.def);
  for (i = 0; i < n; i++)
    if (rules[i].nr > nr_max)
      nr_max = rules[i].nr;
  out = (struct sock_filter *)lua_newuserdatauv(
      L, (SC_STUBLEN + SC_MAXINSNS) * sizeof *out, 0);
  off = p.has_above ? SC_STUBLEN : 0;

  ctx = new_ctx(&p, NULL, 0, &rc);
  if (ctx == NULL) {
    what = "seccomp_init";
    goto out;
  }
  if ((rc = add_rules(ctx, rules, n, p.def, 1, &subject)) < 0) {
    what = "seccomp_rule_add";
    goto out;
  }
  if (p.narches > 0) {
    /*
    ** Other arches live in a second context merged in: rules given by
    ** number are native numbers, and libseccomp cannot translate a number
    ** its tables lack to another arch (EFAULT).
    */
    scmp_filter_ctx extra = new_ctx(&p, p.arches, p.narches, &rc);
    if (extra == NULL) {
      what = "seccomp_arch_add";
      goto out;
    }
    if ((rc = add_rules(extra, rules, n, p.def, 0, &subject)) < 0) {
      seccomp_release(extra);
      what = "seccomp_rule_add";
      goto out;
    }
    if ((rc = seccomp_merge(ctx, extra)) < 0) {  /* consumes 'extra' on success */
      seccomp_release(extra);
      what = "seccomp_merge";
      goto out;
    }
  }
  fd = memfd_create("nslua-seccomp", MFD_CLOEXEC);
  if (fd < 0) {
    err = errno;
    what = "memfd_create";
    goto out;
  }
  if ((rc = seccomp_export_bpf(ctx, fd)) < 0) {
    what = "seccomp_export_bpf";
    goto out;
  }
  if (fstat(fd, &st) != 0) {
    err = errno;
    what = "fstat";
    goto out;
  }
  len = (size_t)st.st_size;
  if (len % sizeof *out != 0 || len / sizeof *out + off > SC_MAXINSNS) {
    err = E2BIG;  /* the kernel would refuse it with EINVAL */
    what = "seccomp_export_bpf";
    goto out;
  }
  errno = 0;
  if (pread(fd, out + off, len, 0) != (ssize_t)len) {
    err = errno != 0 ? errno : EIO;
    what = "pread";
    goto out;
  }
out:
  if (fd >= 0)
    close(fd);
  if (ctx != NULL)
    seccomp_release(ctx);
  if (rc < 0)
    err = -rc;  /* libseccomp returns -errno */
  if (err != 0)
    return nslua_fail(L, err, what, subject);
  if (p.has_above)
    write_stub(out, (uint32_t)nr_max, p.above);
  lua_pushlstring(L, (const char *)out, len + off * sizeof *out);
  return 1;
}

static const nslua_flag load_flags[] = {
  {"no_new_privs", 1},
  {NULL, 0}
};

/*
** seccomp.load(bpf [, {no_new_privs = true}]) -> true | nil, msg, errno
** Installs the filter on the calling thread (and what it execs; filters
** stack and cannot be removed).  The kernel demands no_new_privs or
** CAP_SYS_ADMIN in the caller's user namespace (EACCES otherwise):
** {no_new_privs = true} sets PR_SET_NO_NEW_PRIVS first, which also stops
** setuid and file capabilities from granting anything on exec.
*/
static int sc_load (lua_State *L) {
  size_t len;
  const char *bpf = luaL_checklstring(L, 1, &len);
  unsigned long opts = nslua_optflags(L, 2, load_flags);
  struct sock_fprog prog;
  luaL_argcheck(L, len > 0 && len % sizeof(struct sock_filter) == 0
                && len / sizeof(struct sock_filter) <= SC_MAXINSNS, 1,
                "not a BPF program (a non-empty multiple of 8 bytes, at most 4096 "
                "instructions)");
  if ((opts & 1) && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    return nslua_fail(L, errno, "prctl", "PR_SET_NO_NEW_PRIVS");
  prog.len = (unsigned short)(len / sizeof(struct sock_filter));
  prog.filter = (struct sock_filter *)(uintptr_t)bpf;  /* the kernel copies it */
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0)
    return nslua_fail(L, errno, "prctl", "PR_SET_SECCOMP");
  return nslua_ok(L);
}

/*
** seccomp.resolve("read" [, arch]) -> 0 | nil
** The syscall's number on 'arch' (default "native", else a libseccomp
** architecture name such as "x86" or "aarch64"); nil when that arch has no
** such syscall or libseccomp does not know the name.
*/
static int sc_resolve (lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  const char *arch = luaL_optstring(L, 2, "native");
  uint32_t tok = strcmp(arch, "native") == 0 ? seccomp_arch_native()
                                             : seccomp_arch_resolve_name(arch);
  int nr;
  if (tok == 0)
    luaL_argerror(L, 2, lua_pushfstring(L, "unknown architecture '%s'", arch));
  nr = seccomp_syscall_resolve_name_arch(tok, name);
  if (nr < 0)
    luaL_pushfail(L);
  else
    lua_pushinteger(L, nr);
  return 1;
}

/* seccomp.version() -> "2.5.4"  (the libseccomp in use, not the headers) */
static int sc_version (lua_State *L) {
  const struct scmp_version *v = seccomp_version();
  lua_pushfstring(L, "%d.%d.%d", (int)v->major, (int)v->minor, (int)v->micro);
  return 1;
}

/*
** seccomp.digest(path) -> 16 hex digits | nil, msg, errno
** A 64-bit digest of a file's bytes: the file in blocks of 16384 bytes
** (the last one shorter), each block's 8-byte words (native order) and
** then its tail bytes and its length mixed in by FNV-1a's step followed by
** h ^= h >> 32 (so a change in a word's top bits reaches the low ones: plain
** FNV over words lets two such changes cancel), and murmur3's finaliser at
** the end.  The content part of a cached program's key
** (nslua.seccomp_cache) and of a precompiled module's check (scripts/luac
** takes the same digest in Lua).  Not for adversaries: the files are
** nslua's own.
*/
#define DIGEST_BLOCK 16384

static uint64_t digest_mix (uint64_t h, uint64_t v) {
  h ^= v;
  h *= 0x100000001b3ULL;
  return h ^ (h >> 32);
}

/* read up to n bytes, short only at the end of the file */
static ssize_t read_full (int fd, unsigned char *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, buf + got, n - got);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return -1;
    if (r == 0)
      break;
    got += (size_t)r;
  }
  return (ssize_t)got;
}

static int sc_digest (lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  unsigned char buf[DIGEST_BLOCK];
  uint64_t h = 0xcbf29ce484222325ULL;
  ssize_t n;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return nslua_fail(L, errno, "open", path);
  while ((n = read_full(fd, buf, sizeof buf)) > 0) {
    ssize_t i = 0;
    for (; i + 8 <= n; i += 8) {
      uint64_t w;
      memcpy(&w, buf + i, 8);
      h = digest_mix(h, w);
    }
    for (; i < n; i++)
      h = digest_mix(h, buf[i]);
    h = digest_mix(h, (uint64_t)n);
    if (n < DIGEST_BLOCK)
      break;
  }
  if (n < 0) {
    int e = errno;
    close(fd);
    return nslua_fail(L, e, "read", path);
  }
  close(fd);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  char hex[17];
  snprintf(hex, sizeof hex, "%016llx", (unsigned long long)h);
  lua_pushstring(L, hex);
  return 1;
}

static const luaL_Reg sc_funcs[] = {
  {"compile", sc_compile},
  {"digest", sc_digest},
  {"load", sc_load},
  {"resolve", sc_resolve},
  {"version", sc_version},
  {NULL, NULL}
};

/*
** seccomp.build: the checksum of the csrc/seccomp.c this core was built
** from (`cksum`, from the Makefile), part of the seccomp cache's key
** (nslua.seccomp_cache): a core rebuilt from another seccomp.c at the
** same version never reads the programs of the one before.
*/
#ifndef NSLUA_SECCOMP_C
#define NSLUA_SECCOMP_C "0"
#endif

int nslua_open_seccomp (lua_State *L) {
  luaL_newlib(L, sc_funcs);
  lua_pushliteral(L, NSLUA_SECCOMP_C);
  lua_setfield(L, -2, "build");
  return 1;
}
