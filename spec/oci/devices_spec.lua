-- The device cgroup on cgroup v2: a BPF program (core.cgroup.device_filter)
-- attached to the group, v1's rules in order with the last match deciding.
-- On a pure v2 host it is all that keeps a root container (CAP_MKNOD, no
-- user namespace: podman rootful, Kubernetes) from the host's disks.  The
-- test makes its own group in the cgroup2 mount (on a hybrid host the
-- unified hierarchy enforces device programs as well) and puts a shell of
-- its own in it.
local helper = require "helper"
local q = helper.quote

-- the cgroup2 mount point, or nil
local function cgroup2()
  for line in (helper.read("/proc/self/mountinfo") or ""):gmatch("[^\n]+") do
    local mp, fs = line:match("^%S+ %S+ %S+ %S+ (%S+) .- %- (%S+) ")
    if fs == "cgroup2" then return mp end
  end
end

-- What a shell in group 'dir' may do with devices: one word per probe.
local PROBES = table.concat({
  'echo $$ > "$G/cgroup.procs" || { echo join-failed; exit 1; }',
  'cat /dev/null && echo null-r || echo no-null-r',
  '(echo x > /dev/null) 2>/dev/null && echo null-w || echo no-null-w',
  'head -c 1 /dev/zero >/dev/null 2>&1 && echo zero-r || echo no-zero-r',
  '(echo x > /dev/zero) 2>/dev/null && echo zero-w || echo no-zero-w',
  'head -c 1 /dev/urandom >/dev/null 2>&1 && echo urandom-r || echo no-urandom-r',
  '(echo x > /dev/urandom) 2>/dev/null && echo urandom-w || echo no-urandom-w',
  -- (O_RDWR: a "deny w" takes it, as v1 does)
  '(exec 3<>/dev/urandom) 2>/dev/null && echo urandom-rw || echo no-urandom-rw',
  'mknod "$T/c13" c 1 3 2>/dev/null && echo mknod-null || echo no-mknod-null',
  'mknod "$T/b80" b 8 0 2>/dev/null && echo mknod-sda || echo no-mknod-sda',
}, "\n")

local function probe(dir, tmp)
  local ok, out = helper.sh(("G=%s T=%s sh -c %s"):format(q(dir), q(tmp), q(PROBES)))
  assert(ok, out)
  local words = {}
  for w in out:gmatch("%S+") do words[#words + 1] = w end
  return table.concat(words, " ")
end

describe("the cgroup v2 device filter", function()
  local mp, dir, tmp
  before_each(function()
    mp = cgroup2()
    tmp = helper.tmpdir("0755")
    dir = mp and ("%s/nslua-spec-dev-%d"):format(mp, math.random(1, 1e9))
  end)
  after_each(function()
    helper.rmtree(tmp)
    if dir and helper.exists(dir) then
      -- (the shell that joined it has exited: the group is empty)
      assert(helper.sh("rmdir " .. q(dir)))
    end
    assert.is_false(dir ~= nil and helper.exists(dir))
  end)

  local function ready()
    if not helper.is_root() then return "needs root (cgroups, mknod)" end
    if not mp then return "no cgroup2 mount" end
    assert(helper.sh("mkdir " .. q(dir)))
    return nil
  end

  it("denies what no rule allows, and the last matching rule decides", function()
    local why = ready()
    if why then return pending(why) end
    local ok, out = helper.run_isolated(([[
      local cg = require("nslua.core").cgroup
      print(cg.device_filter(%q, {
        { allow = false, type = "a" },
        { allow = true, type = "c", major = 1, minor = 3 },                 -- null: rwm
        { allow = true, type = "c", major = 1, minor = 5, access = "r" },   -- zero: read only
        { allow = true, type = "c", major = 1, minor = 9 },                 -- urandom: rwm ...
        { allow = false, type = "c", major = 1, minor = 9, access = "w" },  -- ... but not written
      }))
    ]]):format(dir))
    assert.is_true(ok, out)
    assert.equal("true\n", out)
    assert.equal("null-r null-w zero-r no-zero-w urandom-r no-urandom-w no-urandom-rw mknod-null no-mknod-sda",
      probe(dir, tmp))
  end)

  it("refuses bad rules by name, and attaches nothing", function()
    local why = ready()
    if why then return pending(why) end
    local ok, out = helper.run_isolated(([[
      local cg = require("nslua.core").cgroup
      for _, rules in ipairs {
        { { allow = true, type = "x" } },
        { { allow = true, type = "c", access = "rwx" } },
        { { allow = true, type = "c", major = -2 } },
        { "c 1:3 rwm" },
      } do
        local okc, err = pcall(cg.device_filter, %q, rules)
        print(okc, (tostring(err):gsub("^.-: ", "")))
      end
      print(cg.device_filter("/nonexistent/group", {}))
    ]]):format(dir))
    assert.is_true(ok, out)
    for _, msg in ipairs { "a device rule's type is a, b or c)", "a device rule's access is of r, w and m)",
                           "a device number is -1 (any) or 0..2^31-1)", "a device rule is a table)" } do
      assert.matches("false\t[^\n]*" .. msg:gsub("%p", "%%%0") .. "\n", out)
    end
    assert.matches("nil\topen '/nonexistent/group': No such file or directory\t2\n$", out)
    -- nothing attached: every device as the host allows it
    assert.equal("null-r null-w zero-r zero-w urandom-r urandom-w urandom-rw mknod-null mknod-sda", probe(dir, tmp))
  end)

  -- nslua-oci on a host without a v1 devices hierarchy: deny all, the
  -- config's rules, then runc's default list, as a program on the group
  it("is what nslua-oci gives a container's v2 group for linux.resources.devices", function()
    local why = ready()
    if why then return pending(why) end
    local ok, out = helper.run_isolated(([[
      local oci = require "nslua.cli.oci"
      local w = oci._resource_writes({ cgroup_dirs = %q }, { devices = {
        { allow = true, type = "c", major = 1, minor = 9, access = "r" },   -- urandom: read
        { allow = false, type = "c", major = 1, minor = 5 },                -- (zero: then runc's list)
      } }, true)
      print(w.device_filter and w.device_filter.dir, w.device_filter and #w.device_filter.rules)
      oci._write_resources(w)
    ]]):format(dir, dir))
    assert.is_true(ok, out)
    assert.equal(dir .. "\t14\n", out)
    -- runc's list allows null and zero (rwm) and mknod of any char or block
    -- node, but opening a block device it does not list stays denied
    assert.equal("null-r null-w zero-r zero-w urandom-r urandom-w urandom-rw mknod-null mknod-sda", probe(dir, tmp))
    local okb, outb = helper.sh(("G=%s sh -c %s"):format(q(dir), q('echo $$ > "$G/cgroup.procs"; '
      .. 'mknod ' .. q(tmp .. "/sda") .. ' b 8 0 && (head -c 1 ' .. q(tmp .. "/sda")
      .. ' >/dev/null 2>&1 && echo read-sda || echo no-read-sda)')))
    assert(okb, outb)
    assert.equal("no-read-sda\n", outb)
  end)
end)
