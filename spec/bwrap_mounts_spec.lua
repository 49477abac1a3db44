-- spec/bwrap_mounts_spec.lua - the mount side of `nslua bwrap`: base =
-- "none", remount-ro, chmod, source_fd, inplace files, exact modes,
-- symlinks, overlays, against real kernel objects, and where it makes
-- sense side by side with the real bubblewrap (/usr/bin/bwrap).
local helper = require "helper"

local BWRAP = "/usr/bin/bwrap"

local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- Run a base = "none" container (mnt, user and pid namespaces) whose
-- payload is sh -c 'script', with 'mounts' (Lua source of the list; nslua's
-- default flags stated, as bwrap's front end does: launch.default_flags) and
-- 'extra' (Lua source of more spec fields); returns ok, output.  A run
-- that fails prints "REPORT <status> <code> <step>: <message>".
local function nsl(mounts, script, extra, prelude)
  return helper.run_isolated(([[
    local nslua = require "nslua"
    %s
    local spec = { base = "none", namespaces = { mnt = true, user = true, pid = true },
      argv = { "/bin/sh", "-c", %q }, mounts = require("nslua.launch").default_flags(%s),
      env = { PATH = "/usr/bin:/bin" } }
    for k, v in pairs(%s) do spec[k] = v end
    local r = assert(nslua.container(spec):run())
    if r.status ~= "exited" or r.exit_code ~= 0 then
      io.write("REPORT ", r.status, " ", tostring(r.exit_code), " ",
        r.error and tostring(r.error.step) .. ": " .. tostring(r.error.message) or "", "\n")
    end
  ]]):format(prelude or "", script, mounts, extra or "{}"))
end

-- The same payload under the real bwrap (as root, no user namespace):
-- ok, output; nil when bwrap is not installed.
local function bwrap(args, script)
  if not helper.exists(BWRAP) then return nil end
  return helper.sh(("%s %s /bin/sh -c %s 2>&1"):format(BWRAP, args, q(script)))
end

local function need_bwrap()
  if not helper.exists(BWRAP) then
    pending("no " .. BWRAP .. ": the differential half is skipped")
    return false
  end
  return true
end

-- bwrap's most common line, `--bind / / --dev /dev --tmpfs /tmp` (a bind
-- of / is nodev in both, so /dev/null needs the fresh /dev)
local ROOT = [[{ type = "bind", source = "/", target = "/" }, { type = "dev", target = "/dev" },
  { type = "tmpfs", target = "/tmp" }]]
local ROOT_ARGS = "--bind / / --dev /dev --tmpfs /tmp"

describe("bwrap's mount side", function()
  local before, dir
  before_each(function()
    before = helper.host_objects()
    dir = helper.tmpdir("0777")
  end)
  after_each(function()
    helper.rmtree(dir)
    helper.assert_clean(before)
  end)

  describe("base none", function()
    it("is an empty writable root: nothing of nslua's, the env as given #priv", function()
      if not helper.is_root() then return pending("needs root") end
      -- /usr and the host's /bin /lib* layout (links or binds), as the only content
      local layout, args = {}, { "--ro-bind /usr /usr" }
      for _, d in ipairs { "bin", "sbin", "lib", "lib32", "lib64", "libx32" } do
        local _, link = helper.sh("readlink /" .. d)
        link = link:gsub("\n$", "")
        if link ~= "" then
          layout[#layout + 1] = ("{ type = 'symlink', source = %q, target = '/%s' }"):format(link, d)
          args[#args + 1] = ("--symlink %s /%s"):format(link, d)
        elseif helper.exists("/" .. d) then
          layout[#layout + 1] = ("{ type = 'bind', source = '/%s', target = '/%s', ro = true }"):format(d, d)
          args[#args + 1] = ("--ro-bind /%s /%s"):format(d, d)
        end
      end
      local mounts = "{ { type = 'bind', source = '/usr', target = '/usr', ro = true }, " ..
        table.concat(layout, ", ") .. " }"
      local script = "ls -A /; stat -c '%a' /; touch /new && echo root-rw; env | sort"
      local ok, out = nsl(mounts, script)
      assert.is_true(ok, out)
      local want = {}
      for _, a in ipairs(args) do want[#want + 1] = a:match("(/%S+)$"):sub(2) end
      table.sort(want)
      local seen = {}
      for line in out:gmatch("[^\n]+") do seen[#seen + 1] = line end
      -- ls -A / shows only what the mounts made (sorted by ls), then 755, rw
      local n = #want
      local listed = { table.unpack(seen, 1, n) }
      table.sort(listed)
      assert.same(want, listed)
      assert.equal("755", seen[n + 1])
      assert.equal("root-rw", seen[n + 2])
      -- the env is exactly the spec's: PATH (given), plus what sh itself sets
      local env = table.concat({ table.unpack(seen, n + 3) }, "\n")
      assert.matches("PATH=/usr/bin:/bin", env, 1, true)
      assert.not_matches("HOME=", env, 1, true)
      if not need_bwrap() then return end
      local bok, bout = bwrap(table.concat(args, " "), "ls -A /; stat -c '%a' /")
      assert.is_true(bok, bout)
      assert.equal(table.concat({ table.unpack(seen, 1, n + 1) }, "\n") .. "\n", bout)
    end)

    it("with --bind / / --tmpfs /tmp: the host's tree, a rw root, a fresh /tmp, as bwrap #priv", function()
      if not helper.is_root() then return pending("needs root") end
      -- the mount points (masks under /proc and /sys, and of nslua's own
      -- state directory, aside: nslua's deliberate differences) and the
      -- root's and /tmp's options and modes
      local script = [[awk '{print $5}' /proc/self/mountinfo | grep -v -e '^/proc/' -e '^/sys/' -e '^/run/nslua$' |
        sort -u;
        awk '$5 == "/" || $5 == "/tmp" {split($6, o, ","); print $5, o[1]}' /proc/self/mountinfo | sort -u;
        stat -c '%a %n' / /tmp; grep ' /tmp ' /proc/self/mounts | cut -d' ' -f3; touch /tmp/x && echo tmp-rw]]
      local ok, out = nsl([[{ { type = "bind", source = "/", target = "/" }, { type = "tmpfs", target = "/tmp" } }]],
        script)
      assert.is_true(ok, out)
      assert.matches("\n/ rw\n/tmp rw\n755 /\n755 /tmp\ntmpfs\ntmp%-rw\n$", out)
      if not need_bwrap() then return end
      local bok, bout = bwrap("--bind / / --tmpfs /tmp", script)
      assert.is_true(bok, bout)
      assert.equal(bout, out)
    end)

    it("keeps Docker's masks where the host's /proc and /sys show through a bind of /", function()
      local masked = helper.exists("/proc/keys") and "/proc/keys" or "/proc/timer_list"
      local ok, out = nsl("{ " .. ROOT .. " }",
        ("grep -c ' %s ' /proc/self/mountinfo; touch /sys/x 2>&1 | grep -c 'Read-only'"):format(masked))
      assert.is_true(ok, out)
      assert.equal("1\n1\n", out)
    end)
  end)

  describe("modes", function()
    it("dir modes apply when made; parents follow bwrap's rule; tmpfs mode and size are exact #priv", function()
      if not helper.is_root() then return pending("needs root") end
      local cases = { "1777", "0644", "0750", "0710", "0640", "0700", "0600", "0705", "0604", "0000" }
      local mounts, args, paths = { ROOT }, { ROOT_ARGS }, {}
      for i, m in ipairs(cases) do
        mounts[#mounts + 1] = ("{ type = 'dir', target = '/tmp/d%d/sub', mode = %q }"):format(i, m)
        args[#args + 1] = ("--perms %s --dir /tmp/d%d/sub"):format(m, i)
        paths[#paths + 1] = ("/tmp/d%d /tmp/d%d/sub"):format(i, i)
      end
      -- no mode: 0755; an existing directory keeps its own
      mounts[#mounts + 1] = "{ type = 'dir', target = '/tmp/plain/sub' }"
      mounts[#mounts + 1] = "{ type = 'dir', target = '/tmp/plain', mode = '0700' }"
      args[#args + 1] = "--dir /tmp/plain/sub --perms 0700 --dir /tmp/plain"
      mounts[#mounts + 1] = "{ type = 'tmpfs', target = '/tmp/t/u', mode = '01777', size = 1048576 }"
      args[#args + 1] = "--perms 01777 --size 1048576 --tmpfs /tmp/t/u"
      local script = ("stat -c '%%a %%n' %s /tmp/plain /tmp/plain/sub /tmp/t /tmp/t/u; " ..
        "df -k /tmp/t/u | awk 'NR == 2 {print $2}'"):format(table.concat(paths, " "))
      local ok, out = nsl("{ " .. table.concat(mounts, ", ") .. " }", script, "{ user = { uid = 0, gid = 0 } }")
      assert.is_true(ok, out)
      local want = { "755", "1777", "755", "644", "750", "750", "750", "710", "750", "640", "700", "700",
                     "700", "600", "705", "705", "705", "604", "700", "0" }
      local lines = {}
      for mode in out:gmatch("(%d+) /tmp/d%d+") do lines[#lines + 1] = mode end
      assert.same(want, lines)
      assert.matches("755 /tmp/plain\n755 /tmp/plain/sub\n755 /tmp/t\n1777 /tmp/t/u\n1024\n$", out)
      if not need_bwrap() then return end
      local bok, bout = bwrap(table.concat(args, " "), script)
      assert.is_true(bok, bout)
      assert.equal(bout, out)
    end)

    it("set-up's umask 0 is its own: the command gets the caller's", function()
      local ok, out = helper.run_isolated(([[
        local nslua = require "nslua"
        assert(nslua.container { base = "none", namespaces = { mnt = true, user = true, pid = true },
          argv = { "/bin/sh", "-c", "umask; stat -c %%a /tmp/d" },
          mounts = { %s, { type = "dir", target = "/tmp/d", mode = "0777" } } }:run())
      ]]):format(ROOT), "umask 0027;")
      assert.is_true(ok, out)
      assert.equal("0027\n777\n", out)
    end)

    it("file: inplace 0666 stays 0666; bound data keeps its mode and ro #priv", function()
      if not helper.is_root() then return pending("needs root") end
      local mounts = "{ " .. ROOT .. [[, { type = "file", target = "/tmp/a/f", content = "one\n", mode = "0666",
        inplace = true }, { type = "file", target = "/tmp/b/g", content = "two\n", mode = "0600", ro = true },
        { type = "file", target = "/tmp/c/h", content = "three\n", mode = "0640" } }]]
      local script = "cat /tmp/a/f /tmp/b/g /tmp/c/h; " ..
        "stat -c '%a %n' /tmp/a /tmp/a/f /tmp/b /tmp/b/g /tmp/c /tmp/c/h; " ..
        "(echo x > /tmp/b/g) 2>/dev/null || echo g-ro; echo y >> /tmp/c/h && echo h-rw; " ..
        "grep -c ' /tmp/a/f ' /proc/self/mountinfo || true"
      local ok, out = nsl(mounts, script, "{ user = { uid = 0, gid = 0 } }")
      assert.is_true(ok, out)
      assert.equal("one\ntwo\nthree\n755 /tmp/a\n666 /tmp/a/f\n700 /tmp/b\n600 /tmp/b/g\n750 /tmp/c\n" ..
        "640 /tmp/c/h\ng-ro\nh-rw\n0\n", out)
      if not need_bwrap() then return end
      local bok, bout = helper.sh(("printf 'one\\n' > %s/1; printf 'two\\n' > %s/2; printf 'three\\n' > %s/3; " ..
        "%s %s --file 7 /tmp/a/f --perms 0600 --ro-bind-data 8 /tmp/b/g " ..
        "--perms 0640 --bind-data 9 /tmp/c/h /bin/sh -c %s 7<%s/1 8<%s/2 9<%s/3 2>&1")
        :format(dir, dir, dir, BWRAP, ROOT_ARGS, q(script), dir, dir, dir))
      assert.is_true(bok, bout)
      assert.equal(bout, out)
    end)

    it("dirs, files and tmpfs parents of the spec belong to the payload (as bwrap's user)", function()
      -- the payload (uid 65534) reaches and reads what restrictive modes
      -- would hide from it were set-up's root the owner
      local ok, out = nsl("{ " .. ROOT .. [[, { type = "dir", target = "/tmp/p/d", mode = "0700" },
        { type = "tmpfs", target = "/tmp/q/t", mode = "0700" },
        { type = "file", target = "/tmp/r/f", content = "bound\n", mode = "0600", ro = true },
        { type = "file", target = "/tmp/s/g", content = "made\n", mode = "0600", inplace = true } }]],
        "stat -c '%a %u %n' /tmp/p /tmp/p/d /tmp/q /tmp/q/t /tmp/r/f /tmp/s /tmp/s/g; cat /tmp/r/f /tmp/s/g")
      assert.is_true(ok, out)
      assert.equal("700 65534 /tmp/p\n700 65534 /tmp/p/d\n700 65534 /tmp/q\n700 65534 /tmp/q/t\n" ..
        "600 65534 /tmp/r/f\n700 65534 /tmp/s\n600 65534 /tmp/s/g\nbound\nmade\n", out)
    end)

    it("an inplace file that exists is truncated and rewritten, its owner and mode kept #priv", function()
      if not helper.is_root() then return pending("needs root") end
      os.execute(("printf 'old old old\\n' > %s/e && chmod 0666 %s/e"):format(dir, dir))
      local ok, out = nsl(("{ { type = 'bind', source = '/', target = '/' }, { type = 'file', target = %q, " ..
        "content = 'new\\n', mode = '0600', inplace = true } }"):format(dir .. "/e"), "true")
      assert.is_true(ok, out)
      local _, st = helper.sh(("stat -c '%%a %%u' %s/e; cat %s/e"):format(dir, dir))
      assert.equal("666 0\nnew\n", st)
    end)

    it("an inplace file refuses a link or a FIFO at its target, never blocking", function()
      local ok, out = nsl("{ " .. ROOT .. [[, { type = "symlink", source = "/etc/hostname", target = "/tmp/l" },
        { type = "file", target = "/tmp/l", content = "x", inplace = true } }]], "true")
      assert.is_true(ok, out)
      assert.matches("mounts: /tmp/l: open '/newroot/tmp/l': Too many levels of symbolic links", out, 1, true)
      ok, out = nsl("{ " .. ROOT .. [[, { type = "dev-bind", source = "/dev/null", target = "/tmp/n" },
        { type = "file", target = "/tmp/n", content = "x", inplace = true } }]], "true")
      assert.is_true(ok, out)
      assert.matches("mounts: /tmp/n: open '/newroot/tmp/n': File exists (not a regular file)", out, 1, true)
    end)

    it("a bind makes its mount point a 0755 directory or a 0444 file #priv", function()
      if not helper.is_root() then return pending("needs root") end
      -- the points are made on the host's file system (the bind of / is
      -- read-write): looked at from the host afterwards, as bwrap leaves them.
      -- The missing parent (d) is 0755; bwrap's is 0700 (a bind's perms
      -- are 0 there, by calloc), which nslua does not copy: its set-up's
      -- directories belong to the sandbox's root, not to the payload.
      os.execute(("mkdir -m 0777 %s/n %s/b && echo f > %s/file && mkdir %s/src"):format(dir, dir, dir, dir))
      local ok, out = nsl(([[{ { type = "bind", source = "/", target = "/" },
        { type = "bind", source = %q, target = %q }, { type = "bind", source = %q, target = %q } }]])
        :format(dir .. "/src", dir .. "/n/d/e", dir .. "/file", dir .. "/n/f"), "true")
      assert.is_true(ok, out)
      local _, st = helper.sh(("stat -c '%%a %%F' %s/n/d %s/n/d/e %s/n/f"):format(dir, dir, dir))
      assert.equal("755 directory\n755 directory\n444 regular empty file\n", st)
      if not need_bwrap() then return end
      local bok, bout = helper.sh(("%s --bind / / --bind %s/src %s/b/d/e --bind %s/file %s/b/f true 2>&1 && " ..
        "stat -c '%%a %%F' %s/b/d/e %s/b/f"):format(BWRAP, dir, dir, dir, dir, dir, dir))
      assert.is_true(bok, bout)
      assert.equal(bout, st:gsub("^[^\n]*\n", ""))
    end)
  end)

  describe("remount-ro and chmod", function()
    it("remount-ro makes one mount read-only, not the ones below it #priv", function()
      if not helper.is_root() then return pending("needs root") end
      local mounts = "{ " .. ROOT .. [[, { type = "tmpfs", target = "/tmp/a" }, { type = "tmpfs", target = "/tmp/a/b" },
        { type = "remount-ro", target = "/tmp/a" } }]]
      local script = "touch /tmp/a/x 2>/dev/null || echo a-ro; touch /tmp/a/b/y && echo b-rw; " ..
        "touch /tmp/z && echo tmp-rw"
      local ok, out = nsl(mounts, script)
      assert.is_true(ok, out)
      assert.equal("a-ro\nb-rw\ntmp-rw\n", out)
      if not need_bwrap() then return end
      local bok, bout = bwrap(ROOT_ARGS .. " --tmpfs /tmp/a --tmpfs /tmp/a/b --remount-ro /tmp/a", script)
      assert.is_true(bok, bout)
      assert.equal(bout, out)
    end)

    it("remount-ro of the root after a bind of /, and of a path that is no mount point", function()
      local ok, out = nsl([[{ { type = "bind", source = "/", target = "/" }, { type = "remount-ro", target = "/" } }]],
        "touch /nslua-spec-x 2>&1 | grep -c 'Read-only'")
      assert.is_true(ok, out)
      assert.equal("1\n", out)
      ok, out = nsl("{ " .. ROOT .. [[, { type = "dir", target = "/tmp/d" },
        { type = "remount-ro", target = "/tmp/d" } }]],
        "true")
      assert.is_true(ok, out)
      assert.matches("REPORT error nil mounts: /tmp/d: mount_setattr '/newroot/tmp/d': Invalid argument " ..
        "(not a mount point)", out, 1, true)
    end)

    it("chmod changes the mode of what is there", function()
      local ok, out = nsl("{ " .. ROOT .. [[, { type = "dir", target = "/tmp/d", mode = "0700" },
        { type = "chmod", target = "/tmp/d", mode = "01751" }, { type = "chmod", target = "/tmp", mode = "0711" } }]],
        "stat -c '%a' /tmp/d /tmp")
      assert.is_true(ok, out)
      assert.equal("1751\n711\n", out)
    end)
  end)

  describe("symlink", function()
    it("takes relative text, is idempotent for the same text, says what is there otherwise", function()
      local ok, out = nsl("{ " .. ROOT .. [[, { type = "dir", target = "/tmp/t" },
        { type = "symlink", source = "t", target = "/tmp/l" },
        { type = "symlink", source = "t", target = "/tmp/l" } }]],
        "readlink /tmp/l; cd /tmp/l && pwd -P")
      assert.is_true(ok, out)
      assert.equal("t\n/tmp/t\n", out)
      ok, out = nsl("{ " .. ROOT .. [[, { type = "symlink", source = "a", target = "/tmp/l" },
        { type = "symlink", source = "../b", target = "/tmp/l" } }]], "true")
      assert.is_true(ok, out)
      assert.matches("REPORT error nil mounts: /tmp/l: symlink '/newroot/tmp/l': File exists " ..
        "(existing destination is a)", out, 1, true)
      ok, out = nsl("{ " .. ROOT .. [[, { type = "dir", target = "/tmp/l" },
        { type = "symlink", source = "a", target = "/tmp/l" } }]], "true")
      assert.is_true(ok, out)
      assert.matches("File exists (the destination exists and is not a symlink)", out, 1, true)
    end)
  end)

  describe("source_fd", function()
    local function fd_run(extra_prelude)
      os.execute(("mkdir -p %s/src && echo fd-content > %s/src/f && chmod -R a+rX %s"):format(dir, dir, dir))
      return nsl("{ " .. ROOT .. [[, { type = "bind", source_fd = FD, target = "/tmp/fd", ro = true } }]],
        "cat /tmp/fd/f; touch /tmp/fd/x 2>/dev/null || echo ro", "{ hooks = HOOKS }",
        ([[local proc = require("nslua.core").proc
           local box = assert(proc.open(%q, { path = true, directory = true }))
           FD = box:fileno()
           HOOKS = {}
           %s]]):format(dir .. "/src", extra_prelude or ""))
    end

    it("a closed fd is a start error naming it (skipped with try)", function()
      local ok, out = helper.run_isolated([[
        local nslua = require "nslua"
        local spec = { base = "none", namespaces = { mnt = true, user = true, pid = true }, argv = { "/bin/true" },
          mounts = { { type = "bind", source = "/", target = "/" },
            { type = "bind", source_fd = 999, target = "/nslua-spec-x" } } }
        print(nslua.container(spec):run())
        spec.mounts[2].try = true
        local r = assert(nslua.container(spec):run())
        print(r.status, r.exit_code)
      ]])
      assert.is_true(ok, out)
      assert.matches("^nil\tstart '.-': mounts%[2%]%.source_fd 999: stat 'fd 999': Bad file descriptor\t9\n" ..
        "exited\t0\n$", out)
    end)

    it("binds what the caller's fd refers to", function()
      local ok, out = fd_run()
      assert.is_true(ok, out)
      assert.equal("fd-content\nro\n", out)
    end)

    it("is not fooled by a rename after the fd was taken", function()
      -- between the parent's look at the fd and the child's mount, the
      -- directory moves and another takes its name: a privileged run binds
      -- the fd's own tree (opened before), a rootless one refuses
      local ok, out = fd_run(([[HOOKS.after_clone = function()
          assert(os.rename(%q, %q))
          assert(os.execute("mkdir %s && echo impostor > %s/f"))
        end]]):format(dir .. "/src", dir .. "/moved", dir .. "/src", dir .. "/src"))
      assert.is_true(ok, out)
      if helper.is_root() then
        assert.equal("fd-content\nro\n", out)
      else
        assert.matches("not the file the source fd refers to", out, 1, true)
      end
    end)

    it("rootless: the fd's path, checked by device and inode, mounted by fd #priv", function()
      if not helper.is_root() then return pending("needs root (to switch to the test user)") end
      os.execute(("mkdir -p %s/src && echo fd-content > %s/src/f && chmod -R a+rX %s"):format(dir, dir, dir))
      local code = ([[
        local nslua = require "nslua"
        local proc = require("nslua.core").proc
        local box = assert(proc.open(%q, { path = true, directory = true }))
        local spec = { base = "none", namespaces = { mnt = true, user = true, pid = true },
          argv = { "/bin/sh", "-c", "cat /tmp/fd/f" },
          mounts = { %s, { type = "bind", source_fd = box:fileno(), target = "/tmp/fd" } } }
        local r = assert(nslua.container(spec):run())
        if r.status ~= "exited" or r.exit_code ~= 0 then
          io.write("REPORT ", r.error and tostring(r.error.message) or tostring(r.status), "\n")
        end
        box:close()
        spec.hooks = { after_clone = function()
          assert(os.rename(%q, %q))
          assert(os.execute("mkdir %s"))
        end }
        box = assert(proc.open(%q, { path = true, directory = true }))
        spec.mounts[#spec.mounts].source_fd = box:fileno()
        r = assert(nslua.container(spec):run())
        io.write("RACE ", r.error and tostring(r.error.message) or tostring(r.status), "\n")
      ]]):format(dir .. "/src", ROOT, dir .. "/src", dir .. "/moved", dir .. "/src", dir .. "/src")
      local ok, out = helper.run_rootless(code)
      assert.is_true(ok, out)
      assert.matches("^fd%-content\nRACE .*not the file the source fd refers to", out)
    end)
  end)

  describe("overlay", function()
    it("takes layers whose paths hold ':' ',' '\\' and spaces; ro has no upper", function()
      local odd = dir .. "/a,b:c\\d e"
      os.execute(("mkdir -p %s %s/l %s/u %s/w && echo odd > %s/z && echo low > %s/l/x && chmod -R a+rwX %s")
        :format(q(odd), dir, dir, dir, q(odd), dir, dir))
      local mounts = ("{ %s, { type = 'overlay', ro = true, lower = { %q, %q }, target = '/tmp/o' }, " ..
        "{ type = 'overlay', lower = { %q }, upper = %q, work = %q, target = '/tmp/p' }, " ..
        "{ type = 'overlay', lower = { %q }, target = '/tmp/q' } }")
        :format(ROOT, odd, dir .. "/l", odd, dir .. "/u", dir .. "/w", odd)
      local ok, out = nsl(mounts, "ls /tmp/o | tr '\\n' ' '; touch /tmp/o/n 2>/dev/null || echo o-ro; " ..
        "echo up > /tmp/p/new && cat /tmp/p/z; echo t > /tmp/q/t && echo q-rw")
      assert.is_true(ok, out)
      assert.equal("x z o-ro\nodd\nq-rw\n", out)
      assert.equal("up\n", helper.read(dir .. "/u/new"))
      assert.is_false(helper.exists(odd .. "/t"))
    end)

    it("names the kernel's reason when a layer is refused", function()
      local ok, out = nsl("{ " .. ROOT .. [[, { type = "overlay", ro = true, lower = { "/nonexistent-l1", "/usr" },
        target = "/tmp/o" } }]], "true")
      assert.is_true(ok, out)
      assert.matches("mounts: /tmp/o: fsconfig lowerdir+ '/.oldroot/nonexistent-l1': No such file", out, 1, true)
    end)
  end)

  describe("order and shadowing", function()
    it("a bind of /dev/null over /etc/shadow on a bind of / hides it #priv", function()
      if not helper.is_root() then return pending("needs root") end
      local script = "wc -c < /etc/shadow; grep -c ' /etc/shadow ' /proc/self/mountinfo"
      local ok, out = nsl([[{ { type = "bind", source = "/", target = "/" },
        { type = "dev-bind", source = "/dev/null", target = "/etc/shadow" } }]], script)
      assert.is_true(ok, out)
      assert.equal("0\n1\n", out)
      if not need_bwrap() then return end
      local bok, bout = bwrap("--bind / / --dev-bind /dev/null /etc/shadow", script)
      assert.is_true(bok, bout)
      assert.equal(bout, out)
      -- a plain (nodev) bind of /dev/null: no read at all, in both
      script = "cat /etc/shadow >/tmp/out 2>&1 && echo read || echo unreadable"
      ok, out = nsl([[{ { type = "bind", source = "/", target = "/" }, { type = "tmpfs", target = "/tmp" },
        { type = "bind", source = "/dev/null", target = "/etc/shadow", ro = true } }]], script)
      assert.is_true(ok, out)
      assert.equal("unreadable\n", out)
      bok, bout = bwrap("--bind / / --tmpfs /tmp --ro-bind /dev/null /etc/shadow", script)
      assert.is_true(bok, bout)
      assert.equal(bout, out)
    end)

    it("a tmpfs over a bind hides it; a bind over a tmpfs shows the source #priv", function()
      if not helper.is_root() then return pending("needs root") end
      os.execute(("mkdir %s/s && echo seen > %s/s/f"):format(dir, dir))
      local script = "ls -A /tmp/x | wc -l; cat /tmp/y/f"
      local ok, out = nsl(("{ %s, { type = 'bind', source = %q, target = '/tmp/x' }, { type = 'tmpfs', " ..
        "target = '/tmp/x' }, { type = 'tmpfs', target = '/tmp/y' }, { type = 'bind', source = %q, " ..
        "target = '/tmp/y' } }"):format(ROOT, dir .. "/s", dir .. "/s"), script)
      assert.is_true(ok, out)
      assert.equal("0\nseen\n", out)
      if not need_bwrap() then return end
      local bok, bout = bwrap(("%s --bind %s/s /tmp/x --tmpfs /tmp/x --tmpfs /tmp/y " ..
        "--bind %s/s /tmp/y"):format(ROOT_ARGS, dir, dir), script)
      assert.is_true(bok, bout)
      assert.equal(bout, out)
    end)

    it("a file bound over a directory fails, as in bwrap #priv", function()
      if not helper.is_root() then return pending("needs root") end
      os.execute(("echo f > %s/file"):format(dir))
      local ok, out = nsl(("{ %s, { type = 'dir', target = '/tmp/d' }, { type = 'bind', source = %q, " ..
        "target = '/tmp/d' } }"):format(ROOT, dir .. "/file"), "echo ran")
      assert.is_true(ok, out)
      assert.matches("REPORT error nil mounts: /tmp/d: open '/newroot/tmp/d': Is a directory", out, 1, true)
      if not need_bwrap() then return end
      local bok, bout = bwrap(("%s --dir /tmp/d --bind %s/file /tmp/d"):format(ROOT_ARGS, dir), "echo ran")
      assert.is_false(bok, bout)
      assert.not_matches("ran", bout)
      assert.matches("Is a directory", bout, 1, true)
    end)
  end)
end)
