/* nft.c - nftables through libnftables: run a batch of nft commands. */
/* SPDX-License-Identifier: MIT */
#include <dlfcn.h>
#include <errno.h>
#include <nftables/libnftables.h>
#include <stdbool.h>
#include <string.h>

#include "nslua.h"

/*
** libnftables is loaded on first use (dlopen), not linked: it pulls in
** libnftnl, libjansson, libxtables and libgmp, which cost every `nslua`
** run ~1 ms of dynamic linking and ~700 KiB of RSS, while only a
** --veth-no-host plan needs it.
*/
#define NFT_SONAME "libnftables.so.1"

static struct {
  struct nft_ctx *(*ctx_new) (uint32_t flags);
  int (*buffer_output) (struct nft_ctx *ctx);
  int (*buffer_error) (struct nft_ctx *ctx);
  int (*run_cmd) (struct nft_ctx *ctx, const char *buf);
  const char *(*error_buffer) (struct nft_ctx *ctx);
  void (*ctx_free) (struct nft_ctx *ctx);
} nft;

/* 0, or ENOENT with *what the library or symbol that is missing. */
static int nft_load (const char **what) {
  void *h;
  if (nft.ctx_free != NULL)
    return 0;
  *what = NFT_SONAME;
  if ((h = dlopen(NFT_SONAME, RTLD_NOW | RTLD_LOCAL)) == NULL)
    return ENOENT;
  /* the handle is kept for the process's life (the functions live in it) */
  *(void **)&nft.ctx_new = dlsym(h, "nft_ctx_new");
  *(void **)&nft.buffer_output = dlsym(h, "nft_ctx_buffer_output");
  *(void **)&nft.buffer_error = dlsym(h, "nft_ctx_buffer_error");
  *(void **)&nft.run_cmd = dlsym(h, "nft_run_cmd_from_buffer");
  *(void **)&nft.error_buffer = dlsym(h, "nft_ctx_get_error_buffer");
  if (nft.ctx_new == NULL || nft.buffer_output == NULL || nft.buffer_error == NULL ||
      nft.run_cmd == NULL || nft.error_buffer == NULL ||
      (*(void **)&nft.ctx_free = dlsym(h, "nft_ctx_free")) == NULL) {
    *what = "dlsym";
    nft.ctx_free = NULL;
    return ENOENT;
  }
  return 0;
}

/*
** The first line of libnftables' error text ("Error: Could not process
** rule: No such file or directory"); the lines after it repeat the
** command and point at it with carets.  Pushed on the stack.
*/
static void push_first_line (lua_State *L, const char *text) {
  size_t n;
  if (text == NULL)
    text = "";
  n = strcspn(text, "\n");
  while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == '\t'))
    n--;
  lua_pushlstring(L, text, n);
}

/*
** nft.run(commands) -> true | nil, msg, errno
** Runs 'commands' (nft syntax, one batch) in the caller's network
** namespace; libnftables applies a buffer as one transaction, so a failed
** batch changes nothing.  The message is the first line of libnftables'
** error text; the errno is what the kernel reported (EPERM without
** CAP_NET_ADMIN, ENOENT for a missing table, EOPNOTSUPP without nf_tables)
** or EINVAL for a batch libnftables itself rejected.
*/
static int nft_lua_run (lua_State *L) {
  const char *cmds = luaL_checkstring(L, 1);
  const char *what = NULL;
  struct nft_ctx *ctx;
  int rc, err;
  if ((err = nft_load(&what)) != 0)
    return nslua_fail(L, err, "dlopen", what);
  ctx = nft.ctx_new(NFT_CTX_DEFAULT);
  if (ctx == NULL)
    return nslua_fail(L, errno != 0 ? errno : ENOMEM, "nft_ctx_new", NULL);
  /* both buffered: libnftables must never write to our stdout or stderr */
  if (nft.buffer_output(ctx) != 0 || nft.buffer_error(ctx) != 0) {
    err = errno != 0 ? errno : ENOMEM;
    nft.ctx_free(ctx);
    return nslua_fail(L, err, "nft_ctx_buffer_error", NULL);
  }
  errno = 0;
  rc = nft.run_cmd(ctx, cmds);
  err = errno;
  if (rc != 0) {
    luaL_pushfail(L);
    lua_pushliteral(L, "nft: ");
    push_first_line(L, nft.error_buffer(ctx));
    nft.ctx_free(ctx);  /* the text is copied: the buffer dies with ctx */
    lua_concat(L, 2);
    /* errno is the kernel's answer only when libnftables printed it (a
    ** netlink error); a batch its parser refused leaves a stale errno. */
    if (err == 0 || strstr(lua_tostring(L, -1), strerror(err)) == NULL)
      err = EINVAL;
    lua_pushinteger(L, err);
    return 3;
  }
  nft.ctx_free(ctx);
  return nslua_ok(L);
}

static const luaL_Reg nft_funcs[] = {
  {"run", nft_lua_run},
  {NULL, NULL}
};

int nslua_open_nft (lua_State *L) {
  luaL_newlib(L, nft_funcs);
  return 1;
}
