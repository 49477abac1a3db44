--- nslua.seccomp_cache: the on-disk cache of the built-in seccomp profiles'
-- programs, which nslua.seccomp writes when it compiles one.  It lives in
-- nslua's state directory (root: /run/nslua/cache, 0700 for rootless
-- callers), keyed by the profile name, nslua.seccomp's source file (a hash
-- of its path: each checkout or install its own entries, none evicting
-- another's), nslua's and libseccomp's versions and that file's size and
-- mtime: editing the profiles or upgrading either library misses, and a
-- new program replaces only its own path's older ones.
--
-- A CLI run reads its program here without loading nslua.seccomp at all
-- (M.lookup, ~0.4 ms and ~90 KB of heap less), once the CLI has said that
-- package.path finds the nslua.seccomp it would load (M.SEARCH).
local core = require "nslua.core"

local M = {}

-- The profiles nslua.seccomp builds by name (its `builders`).
M.BUILTIN = { default = true, strict = true, isolate = true, setid_guard = true }

-- Set by the CLI, whose launcher finds nslua's modules on package.path: a
-- library's host may load them by other means (package.preload, a
-- searcher of its own), and then only nslua.seccomp knows its own file.
M.SEARCH = false

-- 32-bit FNV-1a of s, as 8 hex digits.
local function fnv1a(s)
  local h = 0x811c9dc5
  for i = 1, #s do h = ((h ~ s:byte(i)) * 0x01000193) & 0xffffffff end
  return ("%08x"):format(h)
end

local keys = {}

--- Where the program of built-in profile `name` compiled by the
-- nslua.seccomp at `src` is cached; nil without a state directory (or
-- when `src` cannot be stat'ed).
function M.path(name, src)
  local key = keys[src]
  if not key then
    local st = core.mount.stat(src)
    if not st then return nil end
    key = ("%s-%s-%s-%d-%d"):format(fnv1a(src), core._VERSION, core.seccomp.version(), st.size, st.mtime_ns)
    keys[src] = key
  end
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

--- Cache a program: written to a temporary name and renamed, so a reader
-- never sees half a program; the same profile's programs from the same
-- source file under an older key go (another path's are another
-- checkout's).
function M.write(path, bpf)
  local mount = core.mount
  local dir = path:match("^(.*)/[^/]+$")
  mount.mkdir(dir, 448, true)
  local tmp = ("%s.%d"):format(path, core.proc.getpid())
  if not mount.write_file(tmp, bpf, 384) then return end
  -- os.rename replaces a damaged file; mount.rename would refuse it
  if not os.rename(tmp, path) then mount.unlink(tmp) end
  local base = path:match("[^/]+$")
  local prefix = base:match("^(seccomp%-[%w_]+%-%x+%-)")
  -- (and the profile's programs from before the key had a path hash)
  local old = base:match("^(seccomp%-[%w_]+%-)")
  for _, n in ipairs(mount.readdir(dir) or {}) do
    if prefix and n ~= base and (n:sub(1, #prefix) == prefix
        or n:sub(1, #old) == old and n:sub(#old + 1):match("^%d+%.%d+%.%d+%-")) then
      mount.unlink(dir .. "/" .. n)
    end
  end
end

--- The cached program of built-in profile `name`, found without loading
-- nslua.seccomp; nil (compile it with nslua.seccomp) unless M.SEARCH, when
-- nslua.seccomp is loaded already (it may have been changed or flushed:
-- its own cache is the one to ask), or on a miss.
function M.lookup(name)
  if not M.SEARCH or not M.BUILTIN[name] or package.loaded["nslua.seccomp"] then return nil end
  local src = package.searchpath("nslua.seccomp", package.path)
  local path = src and M.path(name, src)
  return path and M.read(path)
end

return M
