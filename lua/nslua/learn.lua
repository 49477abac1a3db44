--- nslua.learn: `nslua learn`'s recorder and recipe writer (docs/policy.md
-- "nslua learn").
--
-- The recorder is a seccomp default handler (nslua.notify): every syscall
-- of the command but sendmsg reaches it.  It answers as the base profile
-- would for the syscall's name (an unconditional errno or ENOSYS stays
-- one, so libc takes the same fallbacks as it will under the recipe;
-- conditional rules are allowed), and records the syscall, the paths
-- opened by mode (read, write, exec), the executables' loaders and
-- interpreters, and the addresses connected to and bound.  The recipe
-- writer turns a recording into a recipe file: the spec the command ran
-- in, with a seccomp profile that allows exactly the syscalls seen (the
-- base profile's rules for them) and a landlock field of the paths and
-- ports seen, each line commented with why it is there.
--
-- What the recorder reads through pointers is a record, never a decision:
-- the kernel reads the memory again when the call runs.
local core = require "nslua.core"
local seccomp = require "nslua.seccomp"

local M = {}

local errno = core.errno
local EPERM <const>, ENOSYS <const> = errno.EPERM, errno.ENOSYS

-- open(2) flags (the generic values: x86, arm, riscv, s390)
local O_ACCMODE <const>, O_WRONLY <const>, O_RDWR <const> = 3, 1, 2
local O_CREAT <const>, O_TRUNC <const>, O_DIRECTORY <const> = 0x40, 0x200, 0x10000
local O_PATH <const>, O_CLOEXEC <const> = 0x200000, 0x80000
M.O = { CREAT = O_CREAT, TRUNC = O_TRUNC, WRONLY = O_WRONLY, RDWR = O_RDWR, ACCMODE = O_ACCMODE,
        PATH = O_PATH, CLOEXEC = O_CLOEXEC }

----------------------------------------------------------------------------
-- The base profile at the level of names
----------------------------------------------------------------------------

--- The base profile table of a `seccomp` value: a built-in name, a
-- FILE.lua, or a table (expanded); nil for "none".
function M.base_profile(v)
  if v == nil then v = "default" end
  if v == "none" then return nil end
  if type(v) == "string" then
    if v:find("/", 1, true) or v:match("%.lua$") then return seccomp.expand(seccomp.load_file(v)) end
    local p = seccomp.profiles[v]
    if not p then error(("seccomp: unknown profile '%s'"):format(v), 2) end
    return p
  end
  return seccomp.expand(v)
end

-- An action's answer in a handler: nil (allow) or false, errno.
local function answer_of(action, e, profile)
  if action == "allow" or action == "log" or type(action) == "function" then return nil end
  if action == "enosys" then return ENOSYS end
  if type(action) == "table" and action.errno then return action.errno end
  if action == "errno" then return e.errno or (profile and profile.errno) or EPERM end
  return EPERM   -- kill, trap, trace: the command would not go on either
end

--- What the base profile does with each name, ignoring argument
-- conditions: { by_name = { NAME = {uncond = answer|"allow", cond = true} },
-- by_nr = { [nr] = answer|"allow" }, default = answer|"allow", unknown_above }.
function M.verdicts(profile)
  local v = { by_name = {}, by_nr = {} }
  if not profile then
    v.default = "allow"
    return v
  end
  for _, e in ipairs(profile.syscalls or {}) do
    local a = answer_of(e.action, e, profile) or "allow"
    if e.nr then
      v.by_nr[e.nr] = a
    else
      for _, n in ipairs(e.names or { e.name }) do
        local t = v.by_name[n] or {}
        v.by_name[n] = t
        if e.args and #e.args > 0 then t.cond = true elseif t.uncond == nil then t.uncond = a end
      end
    end
  end
  v.default = answer_of(profile.default, profile, profile) or "allow"
  v.unknown_above = profile.unknown_above and (answer_of(profile.unknown_above, profile, profile) or "allow")
  return v
end

-- The highest native number libseccomp names (the profiles' unknown_above
-- starts above what they name: 462, mseal, for the built-in ones).
local HIGHEST_NAMED <const> = 462

--- The base's answer for a syscall (name or nil, number): "allow" or an errno.
function M.verdict(v, name, nr)
  local t = name and v.by_name[name]
  if t then
    if t.uncond ~= nil then return t.uncond end
    return "allow"   -- only conditional rules: the arguments decide; learning allows
  end
  if v.by_nr[nr] then return v.by_nr[nr] end
  if v.unknown_above and nr > HIGHEST_NAMED then return v.unknown_above end
  return v.default
end

----------------------------------------------------------------------------
-- The recorder
----------------------------------------------------------------------------

local Rec = {}
Rec.__index = Rec

--- A new recorder.
-- @tparam[opt] table base the base profile (M.base_profile; nil: none)
-- @tparam[opt] table first { argv0, path = PATH, cwd }: the command the exec
--   tail starts.  Rootless, the exec tail's own execve cannot be read (the
--   task is not dumpable until it has executed: /proc/PID/mem and root
--   refuse); the program is then found from argv0 at its next syscall.
function M.recorder(base, first)
  local r = setmetatable({ syscalls = {}, denied = {}, read = {}, write = {}, exec = {},
                           connect = {}, bind = {}, created = {}, missing = 0, errors = 0,
                           count = 0 }, Rec)
  r.verdicts = M.verdicts(base)
  r.first = first
  r.handler = function(req) return r:on(req) end
  return r
end

local function add(set, path, why)
  local t = set[path]
  if not t then
    t = { n = 0, why = {} }
    set[path] = t
  end
  t.n = t.n + 1
  if why then t.why[why] = true end
  return t
end

-- Does 'path' exist in the target's tree (an O_PATH open in its root)?
local function exists(req, path)
  local fd, _, code = req:open(path, O_PATH | O_CLOEXEC)
  if not fd then return code ~= errno.ENOENT and code ~= errno.ENOTDIR end
  fd:close()
  return true
end

-- The first bytes of a file in the target's tree, or nil.
local function head(req, path, n)
  local fd = req:open(path, O_CLOEXEC)
  if not fd then return nil end
  local s = core.proc.read(fd, n)
  fd:close()
  return s
end

--- The program interpreter of an executable's first bytes: the ELF
-- PT_INTERP (64-bit little-endian) or a script's "#!" line; nil if none.
function M.interpreter(s)
  if not s then return nil end
  if s:sub(1, 2) == "#!" then
    return s:match("^#!%s*([^%s]+)")
  end
  if s:sub(1, 4) ~= "\127ELF" or s:byte(5) ~= 2 or s:byte(6) ~= 1 or #s < 64 then return nil end
  local phoff = string.unpack("<I8", s, 0x21)
  local phentsize, phnum = string.unpack("<I2I2", s, 0x37)
  for k = 0, phnum - 1 do
    local at = phoff + k * phentsize
    if at + 40 > #s then return nil end
    if string.unpack("<I4", s, at + 1) == 3 then   -- PT_INTERP
      local off, size = string.unpack("<I8", s, at + 9), string.unpack("<I8", s, at + 33)
      if off + size > #s then return nil end
      return (s:sub(off + 1, off + size):gsub("%z.*$", ""))
    end
  end
  return nil
end

local function parent(p)
  return p:match("^(.+)/[^/]*$") or "/"
end

-- A file or directory opened: read and/or write by its flags.
function Rec:opened(req, path, flags)
  if flags & O_PATH ~= 0 then return end
  local acc = flags & O_ACCMODE
  local w = acc == O_WRONLY or acc == O_RDWR or flags & (O_CREAT | O_TRUNC) ~= 0
  if acc ~= O_WRONLY then
    if not exists(req, path) then
      -- fails with ENOENT under Landlock as well: nothing to grant
      if not w then self.missing = self.missing + 1 end
    else
      add(self.read, path, flags & O_DIRECTORY ~= 0 and "listed" or nil)
    end
  end
  if w then
    if flags & O_CREAT ~= 0 and not exists(req, path) then
      -- creating needs make_reg on the directory
      add(self.write, parent(path), "created " .. path)
      self.created[path] = true
    else
      add(self.write, path, "written")
    end
  end
end

-- A path made or removed in its directory (mkdir, unlink, rename, ...).
function Rec:changed(path, what)
  add(self.write, parent(path), what .. " " .. path)
  if what == "mkdir" or what == "mkdirat" or what == "bound socket" or what:match("^rename") or what:match("^link")
    or what:match("^symlink") or what:match("^mknod") then
    self.created[path] = true
  end
end

-- A path made during the run (or beneath one) has no inode when the
-- ruleset is made: the directory it was made in, else the path itself.
function Rec:made_in(p)
  local top
  local a = p
  while a ~= "/" do
    if self.created[a] then top = a end
    a = parent(a)
  end
  return top and parent(top) or p
end

function Rec:executed(req, path)
  if not exists(req, path) then return end
  add(self.exec, path, "executed")
  local interp = M.interpreter(head(req, path, 4096))
  if interp and interp:sub(1, 1) == "/" then
    add(self.exec, interp, "the interpreter of " .. path)
  end
end

-- The *at calls: which argument is the path (the dirfd is the one before).
local PATH_ARG <const> = {
  open = 0, creat = 0, openat = 1, openat2 = 1, execve = 0, execveat = 1,
  mkdir = 0, mkdirat = 1, rmdir = 0, unlink = 0, unlinkat = 1, mknod = 0, mknodat = 1,
  truncate = 0,
}

-- The exec tail's program, from argv0 (as execvp finds it), once the
-- process that ran it can be read.
function Rec:first_exec(req)
  local f = self.first
  local a = f.argv0
  if a:find("/", 1, true) then
    if a:sub(1, 1) ~= "/" then a = (f.cwd or "/"):gsub("/$", "") .. "/" .. a end
    return self:executed(req, a)
  end
  for dir in (f.path or "/usr/local/bin:/usr/bin:/bin"):gmatch("[^:]+") do
    local p = dir:gsub("/$", "") .. "/" .. a
    if exists(req, p) then return self:executed(req, p) end
  end
end

function Rec:sockaddr(req, set, what)
  local a = req:sockaddr(1)
  if not a then return end
  local key = a.family == "unix" and ("unix:" .. tostring(a.path))
    or ("%s:%s:%s"):format(a.family, tostring(a.addr), tostring(a.port))
  local t = set[key] or { n = 0, addr = a }
  set[key] = t
  t.n = t.n + 1
  if a.family == "unix" and what == "bind" and a.path and a.path:sub(1, 1) == "/" then
    self:changed(a.path, "bound socket")
  end
end

--- Record one syscall (everything the kernel tells and its pointers hold).
function Rec:record(req)
  local name = req.syscall
  local i = PATH_ARG[name]
  if name == "open" or name == "openat" then
    local p = req:path(i)
    if p then self:opened(req, p, req.args[i + 1]) end
  elseif name == "openat2" then
    local p = req:path(1)
    local how = req:bytes(2, 8)
    if p and #how == 8 then self:opened(req, p, string.unpack("<I8", how)) end
  elseif name == "creat" then
    local p = req:path(0)
    if p then self:opened(req, p, O_WRONLY | O_CREAT | O_TRUNC) end
  elseif name == "truncate" then
    local p = req:path(0)
    if p then add(self.write, p, "truncated") end
  elseif name == "execve" or name == "execveat" then
    local p = req:path(i)
    if p then self:executed(req, p) end
  elseif i then
    local p = req:path(i)
    if p then self:changed(p, name) end
  elseif name == "rename" or name == "link" or name == "symlink" then
    local p = req:path(name == "symlink" and 1 or 0)
    if p then self:changed(p, name) end
    if name == "rename" then
      local q = req:path(1)
      if q then self:changed(q, name) end
    end
  elseif name == "renameat" or name == "renameat2" or name == "linkat" then
    for _, k in ipairs { 1, 3 } do
      local p = req:path(k)
      if p then self:changed(p, name) end
    end
  elseif name == "symlinkat" then
    local p = req:path(2)
    if p then self:changed(p, name) end
  elseif name == "connect" then
    self:sockaddr(req, self.connect, "connect")
  elseif name == "bind" then
    self:sockaddr(req, self.bind, "bind")
  end
end

--- The handler: record, then answer as the base profile would.
function Rec:on(req)
  self.count = self.count + 1
  local name = req.syscall or ("nr " .. tostring(req.nr))
  local a = M.verdict(self.verdicts, req.syscall, req.nr)
  if a ~= "allow" then
    local d = self.denied[name] or { n = 0, errno = a }
    self.denied[name] = d
    d.n = d.n + 1
    return false, a
  end
  self.syscalls[name] = (self.syscalls[name] or 0) + 1
  if self.pending_exec == req.pid and name ~= "execve" then
    self.pending_exec = nil
    pcall(self.first_exec, self, req)
  end
  local ok, err = pcall(self.record, self, req)
  if not ok and (name == "execve" or name == "execveat") and self.first and not self.first_seen then
    self.pending_exec = req.pid
  end
  if name == "execve" or name == "execveat" then self.first_seen = true end
  if not ok and err ~= require("nslua.notify").GONE then
    self.errors = self.errors + 1
    self.last_error = tostring(err)
  end
  return true
end

--- The tracing profile of a recorder: every syscall (but sendmsg) to it.
function Rec:profile()
  return { default = self.handler, comment = "nslua learn: the recorder" }
end

----------------------------------------------------------------------------
-- Paths, collapsed
----------------------------------------------------------------------------

-- Directories never granted as a whole for many entries beneath them
-- (one level deeper is): "/" and the big trees.
local BROAD <const> = { ["/"] = true, ["/usr"] = true, ["/var"] = true, ["/home"] = true,
                        ["/run"] = true, ["/dev"] = true, ["/sys"] = true, ["/usr/lib"] = true,
                        ["/usr/share"] = true, ["/usr/local"] = true, ["/etc"] = false }

local function beneath(p, dir)
  return p == dir or dir == "/" or p:sub(1, #dir + 1) == dir .. "/"
end
M.beneath = beneath

--- Collapse a set of paths { [path] = {n, why} } into a sorted list of
-- entries { path, n, files, why, example }: a directory holding 'min' or
-- more entries (files or directories already collapsed) stands for them,
-- upwards, but never a BROAD one; /proc is one entry (its pids change);
-- entries beneath another entry go.
function M.collapse(set, min)
  min = min or 3
  local items = {}
  for p, t in pairs(set) do
    local key = p
    if beneath(p, "/proc") and p ~= "/proc" then key = "/proc" end
    local it = items[key] or { path = key, n = 0, files = 0, why = {}, example = p }
    items[key] = it
    it.n, it.files = it.n + t.n, it.files + 1
    for w in pairs(t.why) do it.why[w] = true end
  end
  local changed = true
  while changed do
    changed = false
    -- entries beneath another entry join it
    local paths = {}
    for p in pairs(items) do paths[#paths + 1] = p end
    table.sort(paths)
    for _, p in ipairs(paths) do
      for _, q in ipairs(paths) do
        if q ~= p and items[p] and items[q] and beneath(p, q) then
          local a, b = items[q], items[p]
          a.n, a.files = a.n + b.n, a.files + b.files
          for w in pairs(b.why) do a.why[w] = true end
          items[p] = nil
          changed = true
        end
      end
    end
    local by_dir = {}
    for p in pairs(items) do
      local d = parent(p)
      by_dir[d] = by_dir[d] or {}
      table.insert(by_dir[d], p)
    end
    for d, list in pairs(by_dir) do
      if #list >= min and not BROAD[d] and not beneath(d, "/dev") then
        local it = { path = d, n = 0, files = 0, why = {} }
        for _, p in ipairs(list) do
          local b = items[p]
          it.n, it.files = it.n + b.n, it.files + b.files
          it.example = it.example or b.example
          for w in pairs(b.why) do it.why[w] = true end
          items[p] = nil
        end
        items[d] = it
        changed = true
      end
    end
  end
  local out = {}
  for _, it in pairs(items) do out[#out + 1] = it end
  table.sort(out, function(a, b) return a.path < b.path end)
  return out
end

--- The landlock lists of a recording: { read, write, exec } of collapsed
-- entries, connect and bind of { port, addrs = {...} }.
function Rec:landlock()
  local read, exec = {}, {}
  local function put(set, p, t)
    local m = self:made_in(p)
    local r = set[m] or { n = 0, why = {} }
    set[m] = r
    r.n = r.n + t.n
    for w in pairs(t.why) do r.why[w] = true end
    if m ~= p then r.why["made during the run: " .. p] = true end
  end
  for p, t in pairs(self.read) do put(read, p, t) end
  for p, t in pairs(self.exec) do
    put(exec, p, t)
    -- execve opens the file for reading too (FMODE_READ | FMODE_EXEC)
    put(read, p, t)
  end
  -- shared libraries are mapped executable: their directories are read + exec
  for p, t in pairs(self.read) do
    if p:match("%.so[%.%d]*$") then
      local d = parent(p)
      local e = exec[d] or { n = 0, why = {} }
      exec[d] = e
      e.n = e.n + t.n
      e.why["shared libraries"] = true
    end
  end
  local function ports(set)
    local by, list = {}, {}
    for _, t in pairs(set) do
      local a = t.addr
      if (a.family == "inet" or a.family == "inet6") and a.port then
        local e = by[a.port]
        if not e then
          e = { port = a.port, addrs = {}, n = 0 }
          by[a.port] = e
          list[#list + 1] = e
        end
        e.n = e.n + t.n
        e.addrs[#e.addrs + 1] = a.family == "inet6" and ("[%s]"):format(a.addr) or a.addr
      end
    end
    table.sort(list, function(a, b) return a.port < b.port end)
    for _, e in ipairs(list) do table.sort(e.addrs) end
    return list
  end
  return { read = M.collapse(read), write = M.collapse(self.write), exec = M.collapse(exec),
           connect = ports(self.connect), bind = ports(self.bind) }
end

----------------------------------------------------------------------------
-- The learned profile (what a recipe calls)
----------------------------------------------------------------------------

--- The learned seccomp profile: the base profile's rules for the names
-- in 'allow' only (every entry naming one keeps its arguments and action:
-- ioctl stays without TIOCSTI, clone3 stays ENOSYS), a name the base does
-- not name allowed when the base's default allows; every other syscall
-- goes to 'denied' (a handler).  'explain' = { NAME = handler } replaces
-- the unconditional allow of those names with a handler (one that only
-- explains: it answers true).
-- @tparam table t { base = NAME|profile, allow = {NAME, ...}, denied = fn, explain = {...} }
function M.profile(t)
  local base = M.base_profile(t.base)
  local want = {}
  for _, n in ipairs(t.allow or {}) do want[n] = true end
  local explain = t.explain or {}
  local out = { default = t.denied or "errno", syscalls = {},
                comment = "nslua learn: the syscalls seen, with the base profile's rules" }
  local named = {}
  local v = M.verdicts(base)
  for _, e in ipairs(base and base.syscalls or {}) do
    if e.nr then
      if want[e.nr] then out.syscalls[#out.syscalls + 1] = e end
    else
      local keep = {}
      for _, n in ipairs(e.names or { e.name }) do
        if want[n] then
          named[n] = true
          local plain = not (e.args and #e.args > 0) and e.action == "allow" and not v.by_name[n].cond
          if not (plain and explain[n]) then keep[#keep + 1] = n end
        end
      end
      if #keep > 0 then
        local c = {}
        for k, x in pairs(e) do c[k] = x end
        c.names, c.name = keep, nil
        out.syscalls[#out.syscalls + 1] = c
      end
    end
  end
  for n, fn in pairs(explain) do
    local u = v.by_name[n]
    if want[n] and u and u.uncond == "allow" and not u.cond then
      out.syscalls[#out.syscalls + 1] = { name = n, action = fn, comment = "explains Landlock's refusals" }
    end
  end
  local rest = {}
  for n in pairs(want) do
    if type(n) == "string" and not named[n] and M.verdict(v, n, -1) == "allow" then rest[#rest + 1] = n end
  end
  if #rest > 0 then
    table.sort(rest)
    out.syscalls[#out.syscalls + 1] = { names = rest, action = "allow" }
  end
  if base then
    out.unknown_above, out.badarch, out.arches = base.unknown_above, base.badarch, base.arches
  end
  -- A learned name the base names only with arguments reaches the default
  -- when no entry's arguments match: the base's own default decides it
  -- (the filter has compared the arguments; nothing is read here), and
  -- 'denied' hears that the arguments, not the name, were refused.
  local pass = {}
  for n in pairs(want) do
    local u = type(n) == "string" and v.by_name[n]
    if u then pass[n] = u.uncond == nil and v.default == "allow" or false end
  end
  local deny = t.denied
  if type(deny) == "function" then
    out.default = function(req)
      local p = pass[req.syscall]
      if p then return true end
      if p == false then return deny(req, "arguments") end
      return deny(req)
    end
  end
  return out
end

----------------------------------------------------------------------------
-- The recipe
----------------------------------------------------------------------------

local function q(s)
  return ("%q"):format(s):gsub("\\\n", "\\n")
end

local IDENT <const> = "^[%a_][%w_]*$"
local KEYWORDS <const> = { ["and"] = 1, ["break"] = 1, ["do"] = 1, ["else"] = 1, ["elseif"] = 1,
  ["end"] = 1, ["false"] = 1, ["for"] = 1, ["function"] = 1, ["goto"] = 1, ["if"] = 1, ["in"] = 1,
  ["local"] = 1, ["nil"] = 1, ["not"] = 1, ["or"] = 1, ["repeat"] = 1, ["return"] = 1,
  ["then"] = 1, ["true"] = 1, ["until"] = 1, ["while"] = 1 }

--- A Lua expression for a value (tables with sorted keys, lists inline
-- when short); functions and other values raise.
function M.serialize(v, indent)
  indent = indent or ""
  local t = type(v)
  if t == "string" then return q(v) end
  if t == "number" then
    if math.type(v) == "integer" then return tostring(v) end
    return ("%.17g"):format(v)
  end
  if t == "boolean" then return tostring(v) end
  if t ~= "table" then error(("cannot write a %s into a recipe"):format(t), 2) end
  local n = #v
  local keys = {}
  for k in pairs(v) do
    if not (math.type(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end
  end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  local parts = {}
  for i = 1, n do parts[#parts + 1] = M.serialize(v[i], indent .. "  ") end
  for _, k in ipairs(keys) do
    local ks = type(k) == "string" and k:match(IDENT) and not KEYWORDS[k] and k or ("[" .. M.serialize(k) .. "]")
    parts[#parts + 1] = ks .. " = " .. M.serialize(v[k], indent .. "  ")
  end
  if #parts == 0 then return "{}" end
  local one = "{ " .. table.concat(parts, ", ") .. " }"
  if #one + #indent <= 96 and not one:find("\n") then return one end
  return "{\n" .. indent .. "  " .. table.concat(parts, ",\n" .. indent .. "  ") .. ",\n" .. indent .. "}"
end

-- Text for a comment: the payload chooses paths and socket names, and a
-- newline (or \r, another line end to Lua) in one would end the comment
-- and put what follows into the recipe as code.  Control characters and
-- bytes above 0x7e become \ddd.
local function ctext(s)
  return (tostring(s):gsub("[%c\127-\255]", function(c) return ("\\%03d"):format(c:byte()) end))
end
M.ctext = ctext

local function why_text(it, verb)
  local w = {}
  for k in pairs(it.why) do w[#w + 1] = k end
  table.sort(w)
  local s
  if it.files > 1 then
    s = ("%d paths beneath, %d %s (e.g. %s)"):format(it.files, it.n, verb[it.n == 1 and 1 or 2], it.example)
  else
    s = ("%d %s"):format(it.n, verb[it.n == 1 and 1 or 2])
  end
  if #w > 0 then
    if #w > 3 then w = { w[1], w[2], w[3], ("and %d more"):format(#w - 3) } end
    s = s .. "; " .. table.concat(w, ", ")
  end
  return ctext(s)
end

-- The spec fields written as they are (seccomp, landlock and argv are the
-- recipe's own), in this order, then any other.
local FIELD_ORDER <const> = { "name", "hostname", "namespaces", "user", "net", "rootfs", "mounts", "cwd",
                              "env", "keep_env", "caps", "limits", "stdio", "tty" }

-- The handlers every recipe holds (after its lists; %s: nothing).
local HANDLERS <const> = [[
-- The messages that name the rule.  `denied` answers every syscall the
-- list above does not name: EPERM, and a line on stderr.  The landlock
-- handlers only explain: Landlock refuses (EACCES, silently); they answer
-- true whatever they read, and what they read through a pointer is never
-- a decision (the kernel reads it again when the call runs).
local function say(fmt, ...)
  io.stderr:write("nslua learn: ", fmt:format(...), "\n")
end

local function denied(req, why)
  if why == "arguments" then
    say("denied %s: in the learned list, but the base profile refuses these arguments (%s:%d)",
      req.syscall, RECIPE, SYSCALLS_LINE)
  else
    say("denied %s: not in the learned list (%s:%d)", tostring(req.syscall or req.nr), RECIPE, SYSCALLS_LINE)
  end
  return false
end

local function beneath(p, list)
  for _, d in ipairs(list or {}) do
    if p == d or d == "/" or p:sub(1, #d + 1) == d .. "/" then return true end
  end
  return false
end

-- open(2) flags: O_ACCMODE, O_CREAT, O_TRUNC, O_PATH
local ACC, CREAT, TRUNC, OPATH = 3, 0x40, 0x200, 0x200000
local function explain_open(req)
  local at = (req.syscall == "open" or req.syscall == "creat") and 0 or 1
  local path = req:path(at)
  local flags = req.syscall == "creat" and (1 | CREAT | TRUNC) or req.args[at + 1]
  if req.syscall == "openat2" then
    local how = req:bytes(2, 8)
    flags = #how == 8 and string.unpack("<I8", how) or 0
  end
  if not path or flags & OPATH ~= 0 then return true end
  local fd = req:open(path, OPATH | 0x80000)
  if fd then fd:close() end
  local w = flags & ACC ~= 0 or flags & (CREAT | TRUNC) ~= 0
  if w and (fd or flags & CREAT ~= 0) and landlock.write and not beneath(path, landlock.write) then
    say("write to %s: refused, not beneath landlock.write (%s:%d)", path, RECIPE, WRITE_LINE)
  elseif flags & ACC ~= 1 and fd and landlock.read and not beneath(path, landlock.read) then
    say("read of %s: refused, not beneath landlock.read (%s:%d)", path, RECIPE, READ_LINE)
  end
  return true
end

-- a handler that explains: whatever happens, the call goes on (Landlock decides)
local function explains(f)
  return function(req)
    pcall(f, req)
    return true
  end
end

local function explain_exec(req)
  local path = req:path(req.syscall == "execveat" and 1 or 0)
  if path and landlock.exec and not beneath(path, landlock.exec) then
    local fd = req:open(path, OPATH | 0x80000)
    if fd then
      fd:close()
      say("exec of %s: refused, not beneath landlock.exec (%s:%d)", path, RECIPE, EXEC_LINE)
    end
  end
  return true
end

local function explain_port(list, line, what)
  return function(req)
    local a = req:sockaddr(1)
    if a and (a.family == "inet" or a.family == "inet6") and landlock[list] then
      for _, p in ipairs(landlock[list]) do
        if p == a.port then return true end
      end
      say("%s %s port %d: refused, not in landlock.%s (%s:%d)", what, a.addr, a.port, list, RECIPE, line)
    end
    return true
  end
end
]]

--- The recipe text of a recording.
-- @tparam Rec rec the recorder after the run
-- @tparam table o { spec = the spec run (its seccomp the base), argv =
--   the command, report = the run's report, base = the base's name,
--   command_line = what `nslua learn` was given (for the header) }
-- @treturn string Lua source
function M.recipe(rec, o)
  local L = {}
  local function w(s) L[#L + 1] = s or "" end
  local spec, rep = o.spec, o.report or {}
  local base = o.base or "default"
  w("-- A recipe learned by `nslua learn` (docs/policy.md \"nslua learn\").")
  if o.command_line then w("--   nslua learn " .. ctext(o.command_line)) end
  w("-- The default sandbox with the options given, tightened to what the command did:")
  w("-- the syscalls it made, the paths it read, wrote and executed, the ports it")
  w("-- connected to and bound.  Run it: nslua THIS.lua (the learned command) or")
  w("-- nslua THIS.lua -- CMD [ARGS...] (another command, the same rules).")
  local status = rep.status or "?"
  local run = ("-- The run: %s"):format(status)
  if rep.exit_code then run = run .. (" (exit %d)"):format(rep.exit_code) end
  if rep.signal then run = run .. (" (signal %d)"):format(rep.signal) end
  if rep.wall_s then run = run .. (", %.2f s wall"):format(rep.wall_s) end
  if rep.cpu_s then run = run .. (", %.2f s cpu"):format(rep.cpu_s) end
  if rep.max_rss_kb then run = run .. (", max rss %d KiB"):format(rep.max_rss_kb) end
  if rep.memory_peak_kb then run = run .. (", memory peak %d KiB"):format(rep.memory_peak_kb) end
  w(run .. ".")
  if status ~= "exited" and status ~= "signaled" then
    w(("-- The run ended at a limit (%s): the recipe holds what it did until then."):format(status))
  end
  if rep.oom_kills and rep.oom_kills > 0 then w(("-- OOM kills: %d."):format(rep.oom_kills)) end
  w(("-- %d syscalls traced; %d opens of missing paths (ENOENT with or without a rule)."):format(
    rec.count, rec.missing))
  if rec.errors > 0 then
    w(("-- %d syscalls could not be read (%s)."):format(rec.errors, rec.last_error or "?"))
  end
  w("local RECIPE = debug.getinfo(1, \"S\").source:match(\"^@(.*)\") or \"recipe\"")
  w()
  -- syscalls
  local names = {}
  for n in pairs(rec.syscalls) do names[#names + 1] = n end
  -- sendmsg never reaches a handler (the exec tail hands over the listener with it)
  local v = rec.verdicts
  local sendmsg_kept = not rec.syscalls.sendmsg and M.verdict(v, "sendmsg", -1) == "allow"
  if sendmsg_kept then names[#names + 1] = "sendmsg" end
  table.sort(names)
  w(("-- seccomp: the %d syscalls the command made, with the rules the %q profile"):format(#names, base))
  w("-- has for them (arguments included); any other is refused by `denied` below.")
  w("local SYSCALLS_LINE = " .. (#L + 2))
  w("local SYSCALLS = {")
  for _, n in ipairs(names) do
    local c = rec.syscalls[n]
    local why = c and ("%d call%s"):format(c, c == 1 and "" or "s")
      or "never traced (nslua's own channel); the base profile allows it"
    if type(n) == "string" and n:match("^nr ") then
      w(("  %s, -- %s (a number libseccomp does not name)"):format(n:sub(4), why))
    else
      w(("  %s, -- %s"):format(q(n), why))
    end
  end
  local dn = {}
  for n in pairs(rec.denied) do dn[#dn + 1] = n end
  table.sort(dn)
  for _, n in ipairs(dn) do
    local d = rec.denied[n]
    local ename = d.errno == ENOSYS and "ENOSYS" or d.errno == EPERM and "EPERM" or ("errno " .. d.errno)
    if v.by_name[n] then
      w(("  %s, -- %d call%s, refused by the base profile (%s): kept as it answers"):format(
        q(n), d.n, d.n == 1 and "" or "s", ename))
    else
      w(("  -- %s: %d call%s, refused (%s); `denied` refuses it too"):format(ctext(n), d.n,
        d.n == 1 and "" or "s", ename))
    end
  end
  w("}")
  w()
  -- landlock
  local ll = rec:landlock()
  local lines = {}
  w("-- Landlock: what the command opened.  Directories stand for 3 or more entries")
  w("-- beneath them; a created file grants its directory (creating needs it).")
  w("local landlock = {")
  local verbs = { read = { "open", "opens" }, write = { "write", "writes" }, exec = { "exec", "execs" } }
  for _, cat in ipairs { "read", "write", "exec" } do
    lines[cat] = #L + 1
    local list = ll[cat]
    if #list == 0 then
      w(("  %s = {}, -- none seen"):format(cat))
    else
      w(("  %s = {"):format(cat))
      for _, it in ipairs(list) do
        w(("    %s, -- %s"):format(q(it.path), why_text(it, verbs[cat])))
      end
      w("  },")
    end
  end
  for _, cat in ipairs { "connect", "bind" } do
    lines[cat] = #L + 1
    local list = ll[cat]
    if #list == 0 then
      w(("  %s = {}, -- no TCP %s seen"):format(cat, cat))
    else
      w(("  %s = {"):format(cat))
      for _, e in ipairs(list) do
        w(("    %d, -- %s %d time%s: %s"):format(e.port, cat == "connect" and "connected" or "bound", e.n,
          e.n == 1 and "" or "s", table.concat(e.addrs, ", ")))
      end
      w("  },")
    end
  end
  w("}")
  local unix = {}
  for _, set in ipairs { { rec.connect, "connected to" }, { rec.bind, "bound" } } do
    for _, t in pairs(set[1]) do
      if t.addr.family == "unix" then
        unix[#unix + 1] = ("-- %s unix socket %s"):format(set[2], ctext(t.addr.path))
      end
    end
  end
  table.sort(unix)
  for _, s in ipairs(unix) do w(s .. " (Landlock does not restrict it)") end
  w(("local READ_LINE, WRITE_LINE, EXEC_LINE = %d, %d, %d"):format(lines.read, lines.write, lines.exec))
  w(("local CONNECT_LINE, BIND_LINE = %d, %d"):format(lines.connect, lines.bind))
  w()
  for s in HANDLERS:gmatch("([^\n]*)\n") do w(s) end
  -- the explaining handlers, for the names the list allows
  local ex = {}
  for _, n in ipairs { "open", "openat", "openat2", "creat" } do
    if rec.syscalls[n] then ex[#ex + 1] = ("%s = explains(explain_open)"):format(n) end
  end
  for _, n in ipairs { "execve", "execveat" } do
    if rec.syscalls[n] then ex[#ex + 1] = ("%s = explains(explain_exec)"):format(n) end
  end
  if rec.syscalls.connect then
    ex[#ex + 1] = "connect = explains(explain_port(\"connect\", CONNECT_LINE, \"connect to\"))"
  end
  if rec.syscalls.bind then ex[#ex + 1] = "bind = explains(explain_port(\"bind\", BIND_LINE, \"bind on\"))" end
  w()
  w("local ARGV = " .. M.serialize(o.argv or spec.argv or {}, ""))
  w()
  w("return {")
  local done = { seccomp = true, landlock = true, argv = true }
  local fields = {}
  for _, k in ipairs(FIELD_ORDER) do
    if spec[k] ~= nil then fields[#fields + 1] = k end
    done[k] = true
  end
  local extra = {}
  for k in pairs(spec) do if not done[k] then extra[#extra + 1] = k end end
  table.sort(extra, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(extra) do fields[#fields + 1] = k end
  for _, k in ipairs(fields) do
    local ok, s = pcall(M.serialize, spec[k], "  ")
    if ok then
      w(("  %s = %s,"):format(k, s))
    else
      w(("  -- %s: not written (%s)"):format(k, ctext(s)))
    end
  end
  w("  -- the learned command, unless `nslua THIS.lua -- CMD` gives another")
  w("  argv = select(\"#\", ...) == 0 and ARGV or nil,")
  w("  landlock = landlock,")
  w(("  seccomp = require(\"nslua.learn\").profile { base = %s, allow = SYSCALLS, denied = denied,"):format(
    type(o.base) == "string" and q(o.base) or q("default")))
  w("    explain = {")
  for _, e in ipairs(ex) do w("      " .. e .. ",") end
  w("    } },")
  w("}")
  return table.concat(L, "\n") .. "\n"
end

return M
