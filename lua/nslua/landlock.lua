--- nslua.landlock: what `landlock = {...}` means to the kernel (pure).
-- A spec's categories (read, write, exec = { PATH, ... }; connect, bind =
-- { PORT, ... }) become the ruleset the exec tail applies
-- (core.landlock's form: handled rights, rules), masked to the rights the
-- kernel's ABI has; what it lacks is listed as not enforced.  Also the
-- intersection nslua.policy.compose uses, and the report's field.
-- docs/policy.md "Landlock".
local M = {}

M.PATH_CATEGORIES = { "read", "write", "exec" }
M.PORT_CATEGORIES = { "connect", "bind" }
M.CATEGORIES = { "read", "write", "exec", "connect", "bind" }

-- The rights of each category (LANDLOCK_ACCESS_FS_* / _NET_*, as
-- core.landlock names them).  IOCTL_DEV (ABI 5) is never handled: it
-- would refuse ioctls on the command's own tty.
M.RIGHTS = {
  read = { "read_file", "read_dir" },
  write = { "write_file", "remove_dir", "remove_file", "make_char", "make_dir", "make_reg",
            "make_sock", "make_fifo", "make_block", "make_sym", "refer", "truncate" },
  exec = { "execute" },
  connect = { "connect_tcp" },
  bind = { "bind_tcp" },
}

-- The first ABI that has each right (the others: 1).
M.SINCE = { refer = 2, truncate = 3, connect_tcp = 4, bind_tcp = 4 }

local function is_port_category(cat) return cat == "connect" or cat == "bind" end

--- The ruleset of a validated `landlock` field for a kernel of ABI abi:
-- { abi, fs = {right = true}, net = {...}, rules = {{category, path |
-- port, access = {right = true}}, ...}, unenforced = {{category, right |
-- port, reason}, ...} }, or nil when the field restricts nothing.
-- Paths are sandbox paths, each granting its category's rights beneath
-- it; with ABI >= 2 and file rights handled but `write` unrestricted, a
-- rule on "/" grants `refer` (a Landlock domain otherwise refuses every
-- rename or link across directories).
-- @tparam table ll the spec's landlock field
-- @tparam integer abi the kernel's Landlock ABI (core.landlock.abi())
function M.plan(ll, abi)
  if not ll then return nil end
  local p = { abi = abi, fs = {}, net = {}, rules = {}, unenforced = {} }
  local any = false
  for _, cat in ipairs(M.CATEGORIES) do
    local list = ll[cat]
    if list then
      any = true
      local access = {}
      for _, right in ipairs(M.RIGHTS[cat]) do
        local since = M.SINCE[right] or 1
        if abi >= since then
          access[right] = true
          p[is_port_category(cat) and "net" or "fs"][right] = true
        elseif not is_port_category(cat) then
          p.unenforced[#p.unenforced + 1] = { category = cat, right = right,
            reason = ("needs Landlock ABI %d (the kernel has %d)"):format(since, abi) }
        end
      end
      if next(access) == nil and #list == 0 then
        p.unenforced[#p.unenforced + 1] = { category = cat,
          reason = ("TCP port rules need Landlock ABI 4 (the kernel has %d)"):format(abi) }
      end
      for _, x in ipairs(list) do
        if next(access) == nil then
          p.unenforced[#p.unenforced + 1] = { category = cat, port = x,
            reason = ("TCP port rules need Landlock ABI 4 (the kernel has %d)"):format(abi) }
        else
          local r = { category = cat, access = access }
          if is_port_category(cat) then r.port = x else r.path = x end
          p.rules[#p.rules + 1] = r
        end
      end
    end
  end
  if not any then return nil end
  if next(p.fs) and not ll.write and abi >= 2 then
    p.fs.refer = true
    p.rules[#p.rules + 1] = { category = "rename", path = "/", access = { refer = true } }
  end
  if next(p.fs) == nil then p.fs = nil end
  if next(p.net) == nil then p.net = nil end
  if not p.fs and not p.net then p.rules = {} end
  if #p.unenforced == 0 then p.unenforced = nil end
  return p
end

--- The report's `landlock` field: { abi, enforced = {{category, path |
-- port}, ...}, not_enforced = {{category, path | port | right, reason}} }.
-- @tparam table p plan.exec.landlock
-- @tparam[opt] table skipped {[rule index] = errno} (status records)
-- @tparam[opt] function strerror errno -> text
function M.report(p, skipped, strerror)
  if not p then return nil end
  skipped = skipped or {}
  local r = { abi = p.abi, enforced = {}, not_enforced = {} }
  for i, rule in ipairs(p.rules) do
    if rule.category ~= "rename" then
      local e = skipped[i]
      local t = { category = rule.category, path = rule.path, port = rule.port }
      if e then
        t.reason = ("not in the sandbox (%s)"):format(strerror and strerror(e) or ("errno " .. e))
        r.not_enforced[#r.not_enforced + 1] = t
      else
        r.enforced[#r.enforced + 1] = t
      end
    end
  end
  for _, u in ipairs(p.unenforced or {}) do
    r.not_enforced[#r.not_enforced + 1] = { category = u.category, right = u.right, port = u.port,
                                            reason = u.reason }
  end
  return r
end

-- The paths both lists allow: each path of one that lies beneath (or is)
-- a path of the other.
local function beneath(p, dir)
  if dir == "/" then return true end
  return p == dir or p:sub(1, #dir + 1) == dir .. "/"
end

local function intersect_paths(a, b)
  local out, seen = {}, {}
  local function add(p)
    if not seen[p] then seen[p], out[#out + 1] = true, p end
  end
  for _, pa in ipairs(a) do
    for _, pb in ipairs(b) do
      if type(pa) == "string" and type(pb) == "string" then
        if beneath(pa, pb) then add(pa) elseif beneath(pb, pa) then add(pb) end
      end
    end
  end
  return out
end

local function intersect_ports(a, b)
  local inb, out = {}, {}
  for _, x in ipairs(b) do inb[x] = true end
  for _, x in ipairs(a) do if inb[x] then out[#out + 1] = x end end
  return out
end

--- Two layers' landlock fields composed (nslua.policy.compose): a
-- category only one layer sets is that layer's; one both set allows only
-- what each allows (a path beneath a path of the other, a port in both).
-- Values of another shape are kept for validation to report.
function M.compose(a, b)
  local out = {}
  for k, v in pairs(a) do out[k] = v end
  for k, v in pairs(b) do
    local x = out[k]
    if type(x) == "table" and type(v) == "table" and (k == "read" or k == "write" or k == "exec") then
      out[k] = intersect_paths(x, v)
    elseif type(x) == "table" and type(v) == "table" and (k == "connect" or k == "bind") then
      out[k] = intersect_ports(x, v)
    else
      out[k] = v
    end
  end
  for k, v in pairs(out) do
    if type(v) == "table" then
      local c = {}
      for i, x in ipairs(v) do c[i] = x end
      out[k] = c
    end
  end
  return out
end

--- Lines for `nslua explain`.
function M.explain(p)
  local out = {}
  if not p then return out end
  local function names(set)
    local t = {}
    for k in pairs(set or {}) do t[#t + 1] = k end
    table.sort(t)
    return table.concat(t, ",")
  end
  out[#out + 1] = ("landlock: ABI %d; handles fs [%s] net [%s]"):format(p.abi, names(p.fs), names(p.net))
  for _, r in ipairs(p.rules) do
    if r.category == "rename" then
      out[#out + 1] = "landlock: refer beneath / (renames and links across directories stay allowed)"
    else
      out[#out + 1] = ("landlock: %s %s [%s]"):format(r.category, r.path or ("port " .. r.port),
        names(r.access))
    end
  end
  for _, u in ipairs(p.unenforced or {}) do
    out[#out + 1] = ("landlock: not enforced: %s %s: %s"):format(u.category,
      u.right or ("port " .. tostring(u.port)), u.reason)
  end
  return out
end

return M
