--- nslua.seccomp_cache: the on-disk cache of the built-in seccomp profiles'
-- programs, which nslua.seccomp writes when it compiles one.  It lives in
-- nslua's state directory (root: /run/nslua/cache, 0700 for rootless
-- callers), keyed by the profile name, nslua.seccomp's source file (a hash
-- of its path: each checkout or install its own entries, none evicting
-- another's), that file's content (a 64-bit digest, core
-- seccomp.digest), nslua's and libseccomp's versions and the checksum of
-- csrc/seccomp.c, which compiles them (seccomp.build): editing either,
-- or upgrading either library, misses, and a new program replaces
-- only its own path's older ones.  Beside them,
-- `source-<hash>` names the path the hash is of: a write (a miss) removes
-- the programs of every path that no longer exists (a deleted checkout, a
-- test's copy of the tree), so the directory does not grow with each
-- tree that ever ran.  A program without a `source-` file (an older
-- nslua's) is left alone.
--
-- A CLI run reads its program here without loading nslua.seccomp at all
-- (M.lookup, ~0.4 ms and ~90 KB of heap less): the launcher, before any
-- recipe or other code of the caller's runs, names the nslua.seccomp file
-- it loads (M.SOURCE), and the key is that file's.
local core = require "nslua.core"

local M = {}

local ENOENT <const> = 2

-- The profiles nslua.seccomp builds by name (its `builders`).
M.BUILTIN = { default = true, strict = true, isolate = true, setid_guard = true }

-- Set by scripts/nslua only (nil: no lookup): the nslua.seccomp source file
-- its require loads, and how many package.searchers there were when it
-- said so.  A library's host may load modules by other means, and then
-- only nslua.seccomp knows its own file.
M.SOURCE, M.SEARCHERS = nil, nil

-- 32-bit FNV-1a of s, as 8 hex digits.
local function fnv1a(s)
  local h = 0x811c9dc5
  for i = 1, #s do h = ((h ~ s:byte(i)) * 0x01000193) & 0xffffffff end
  return ("%08x"):format(h)
end

--- The cache key of the nslua.seccomp at `src` as it is now (nil when it
-- cannot be read).  Each nslua.seccomp takes its own once, as it loads: a
-- module loaded again after an edit gets a new one.  The C that compiles
-- the programs counts too (seccomp.build, a checksum of csrc/seccomp.c):
-- a core rebuilt from another csrc/seccomp.c at the same version misses.
function M.key(src)
  local digest = core.seccomp.digest(src)
  if not digest then return nil end
  return ("%s-%s-%s-%s-%s"):format(fnv1a(src), digest, core._VERSION, core.seccomp.version(),
    core.seccomp.build)
end

--- Where the program of built-in profile `name` under cache key `key` is
-- cached; nil without a state directory.
function M.path(name, key)
  local ok, state = pcall(require, "nslua.state")
  local root = ok and state.root()
  if not root then return nil end
  return ("%s/cache/seccomp-%s-%s.bpf"):format(root, name, key)
end

--- A cached program, or nil (missing, empty or not whole instructions).
function M.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local bpf = f:read("a")
  f:close()
  if bpf and #bpf > 0 and #bpf % 8 == 0 then return bpf end
  return nil
end

-- Write s to path through a temporary name and a rename, so a reader
-- never sees half of it.
local function put(path, s)
  local mount = core.mount
  local tmp = ("%s.%d"):format(path, core.proc.getpid())
  if not mount.write_file(tmp, s, 384) then return false end
  -- os.rename replaces a damaged file; mount.rename would refuse it
  if not os.rename(tmp, path) then
    mount.unlink(tmp)
    return false
  end
  return true
end

--- Cache a program: written to a temporary name and renamed, so a reader
-- never sees half a program; the same profile's programs from the same
-- source file under an older key go (another path's are another
-- checkout's), and so do those of every recorded source path that no
-- longer exists.
-- @tparam string path from M.path
-- @tparam string bpf the program
-- @tparam[opt] string src the nslua.seccomp file the key is of (recorded
--   as `source-<hash>`)
function M.write(path, bpf, src)
  local mount = core.mount
  local dir = path:match("^(.*)/[^/]+$")
  mount.mkdir(dir, 448, true)
  if not put(path, bpf) then return end
  local base = path:match("[^/]+$")
  local hash = base:match("^seccomp%-[%w_]+%-(%x+)%-")
  -- (an absolute path only: a relative one would be looked for from
  -- whichever directory the next write runs in)
  if src and src:sub(1, 1) == "/" and hash and hash == fnv1a(src) then
    local rec = dir .. "/source-" .. hash
    local f = io.open(rec, "rb")
    local had = f and f:read("a")
    if f then f:close() end
    if had ~= src then put(rec, src) end
  end
  local prefix = base:match("^(seccomp%-[%w_]+%-%x+%-)")
  -- (and the profile's programs from before the key had a path hash)
  local old = base:match("^(seccomp%-[%w_]+%-)")
  local names = mount.readdir(dir) or {}
  -- the hashes whose recorded source is gone (not this one's)
  local gone = {}
  for _, n in ipairs(names) do
    local h = n:match("^source%-(%x+)$")
    if h and h ~= hash then
      local f = io.open(dir .. "/" .. n, "rb")
      local p = f and f:read("a")
      if f then f:close() end
      -- (gone: ENOENT only; a path this process cannot see or reach is
      -- some other process's to judge)
      if p and p ~= "" then
        local st, _, code = mount.stat(p)
        if not st and code == ENOENT then gone[h] = true end
      end
    end
  end
  for _, n in ipairs(names) do
    local h = n:match("^seccomp%-[%w_]+%-(%x+)%-") or n:match("^source%-(%x+)$")
    if (h and gone[h]) or (prefix and n ~= base and (n:sub(1, #prefix) == prefix
        or n:sub(1, #old) == old and n:sub(#old + 1):match("^%d+%.%d+%.%d+%-"))) then
      mount.unlink(dir .. "/" .. n)
    end
  end
end

local got = {}   -- path -> program, what lookup read
-- source -> its key (false: unreadable), taken once a process, as
-- nslua.seccomp takes its own as it loads: a pool's runs read the file once
local keys = {}

--- The cached program of built-in profile `name`, found without loading
-- nslua.seccomp; nil (compile it with nslua.seccomp) without M.SOURCE, once
-- nslua.seccomp is loaded (its own cache and profiles decide), when
-- something could make require load another file than M.SOURCE (a
-- package.preload entry, a searcher added since), or on a miss.
function M.lookup(name)
  if not M.SOURCE or not M.BUILTIN[name] or package.loaded["nslua.seccomp"]
    or package.preload["nslua.seccomp"] or #package.searchers ~= M.SEARCHERS then
    return nil
  end
  local key = keys[M.SOURCE]
  if key == nil then
    key = M.key(M.SOURCE) or false
    keys[M.SOURCE] = key
  end
  local path = key and M.path(name, key)
  if not path then return nil end
  -- (a pool's runs read it once: the path holds the key, so it is the same)
  local bpf = got[path] or M.read(path)
  got[path] = bpf
  return bpf
end

return M
