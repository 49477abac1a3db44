-- spec/oci/config_spec.lua - nslua.oci.config: config.json in, spec out.
-- No kernel needed: the front end is a pure function (STYLE §9).
local helper = require "helper"
local cjson = require "cjson"
local config = require "nslua.oci.config"
local seccomp = require "nslua.seccomp"
local validate = require "nslua.validate"

local BUNDLE = "/b"
local RUNC = "/usr/sbin/runc"
local PODMAN_SECCOMP = "/usr/share/containers/seccomp.json"

-- What podman 4.3 wrote for `podman create --rootfs DIR` on this host
-- (its seccomp profile left out; paths shortened).
local PODMAN_CONFIG = [==[
{
 "ociVersion": "1.0.2-dev",
 "process": {
  "user": {
   "uid": 0,
   "gid": 0,
   "umask": 18
  },
  "args": [
   "/bin/sh",
   "-c",
   "true"
  ],
  "env": [
   "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
   "TERM=xterm",
   "HOSTNAME=7ed3225cde6a"
  ],
  "cwd": "/",
  "capabilities": {
   "bounding": [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT"
   ],
   "effective": [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT"
   ],
   "permitted": [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT"
   ]
  },
  "rlimits": [
   {
    "type": "RLIMIT_NOFILE",
    "hard": 1048576,
    "soft": 1048576
   },
   {
    "type": "RLIMIT_NPROC",
    "hard": 32768,
    "soft": 32768
   }
  ]
 },
 "root": {
  "path": "/var/c/rootfs"
 },
 "hostname": "7ed3225cde6a",
 "mounts": [
  {
   "destination": "/proc",
   "type": "proc",
   "source": "proc",
   "options": [
    "nosuid",
    "noexec",
    "nodev"
   ]
  },
  {
   "destination": "/dev",
   "type": "tmpfs",
   "source": "tmpfs",
   "options": [
    "nosuid",
    "noexec",
    "strictatime",
    "mode=755",
    "size=65536k"
   ]
  },
  {
   "destination": "/sys",
   "type": "sysfs",
   "source": "sysfs",
   "options": [
    "nosuid",
    "noexec",
    "nodev",
    "ro"
   ]
  },
  {
   "destination": "/dev/pts",
   "type": "devpts",
   "source": "devpts",
   "options": [
    "nosuid",
    "noexec",
    "newinstance",
    "ptmxmode=0666",
    "mode=0620",
    "gid=5"
   ]
  },
  {
   "destination": "/dev/mqueue",
   "type": "mqueue",
   "source": "mqueue",
   "options": [
    "nosuid",
    "noexec",
    "nodev"
   ]
  },
  {
   "destination": "/dev/shm",
   "type": "bind",
   "source": "/var/c/userdata/shm",
   "options": [
    "bind",
    "rprivate",
    "nosuid",
    "noexec",
    "nodev"
   ]
  },
  {
   "destination": "/run/.containerenv",
   "type": "bind",
   "source": "/run/c/userdata/.containerenv",
   "options": [
    "bind",
    "rprivate"
   ]
  },
  {
   "destination": "/etc/hostname",
   "type": "bind",
   "source": "/run/c/userdata/hostname",
   "options": [
    "bind",
    "rprivate"
   ]
  },
  {
   "destination": "/etc/resolv.conf",
   "type": "bind",
   "source": "/run/c/userdata/resolv.conf",
   "options": [
    "bind",
    "rprivate"
   ]
  },
  {
   "destination": "/etc/hosts",
   "type": "bind",
   "source": "/run/c/userdata/hosts",
   "options": [
    "bind",
    "rprivate"
   ]
  },
  {
   "destination": "/sys/fs/cgroup",
   "type": "cgroup",
   "source": "cgroup",
   "options": [
    "rprivate",
    "nosuid",
    "noexec",
    "nodev",
    "relatime",
    "ro"
   ]
  }
 ],
 "annotations": {
  "io.container.manager": "libpod",
  "io.kubernetes.cri-o.Created": "2026-12-03T15:45:18.722708365Z",
  "io.kubernetes.cri-o.TTY": "false",
  "io.podman.annotations.autoremove": "FALSE",
  "io.podman.annotations.init": "FALSE",
  "io.podman.annotations.privileged": "FALSE",
  "io.podman.annotations.publish-all": "FALSE",
  "org.opencontainers.image.stopSignal": "15"
 },
 "linux": {
  "sysctl": {
   "net.ipv4.ping_group_range": "0 0"
  },
  "resources": {
   "devices": [
    {
     "allow": false,
     "access": "rwm"
    }
   ],
   "pids": {
    "limit": 2048
   }
  },
  "cgroupsPath": "/libpod_parent/libpod-7ed3225cde6a",
  "namespaces": [
   {
    "type": "pid"
   },
   {
    "type": "network",
    "path": "/run/netns/netns-0b9d7bba-0775-c111-85c2-f66b8556355b"
   },
   {
    "type": "ipc"
   },
   {
    "type": "uts"
   },
   {
    "type": "mount"
   }
  ],
  "maskedPaths": [
   "/proc/acpi",
   "/proc/kcore",
   "/proc/keys",
   "/proc/latency_stats",
   "/proc/timer_list",
   "/proc/timer_stats",
   "/proc/sched_debug",
   "/proc/scsi",
   "/sys/firmware",
   "/sys/fs/selinux",
   "/sys/dev/block"
  ],
  "readonlyPaths": [
   "/proc/asound",
   "/proc/bus",
   "/proc/fs",
   "/proc/irq",
   "/proc/sys",
   "/proc/sysrq-trigger"
  ]
 }
}
]==]

local function deep_copy(v)
  if type(v) ~= "table" then return v end
  local t = {}
  for k, x in pairs(v) do t[k] = deep_copy(x) end
  return t
end

-- A config as config.json holds it: through cjson and back, so numbers
-- are floats and tables plain, as load gives them.
local function as_json(cfg)
  return cjson.decode(cjson.encode(cfg))
end

local function convert(cfg, opts)
  opts = opts or {}
  opts.bundle = opts.bundle or BUNDLE
  opts.id = opts.id or "c1"
  return config.to_spec(as_json(cfg), opts)
end

-- The default config with 'edit' applied to a copy.
local function with(edit, rootless)
  local cfg = config.default(rootless, { uid = 1000, gid = 1000 })
  edit(cfg)
  return cfg
end

local function has(list, want)
  for _, e in ipairs(list or {}) do
    if e == want then return true end
  end
  return false
end

local function assert_error(cfg, want, opts)
  local spec, errs = convert(cfg, opts)
  assert.is_nil(spec, "converted without error; wanted: " .. want)
  assert.is_true(has(errs, want), ("wanted %q among:\n  %s"):format(want, table.concat(errs, "\n  ")))
end

local function assert_ok(cfg, opts)
  local spec, errs = convert(cfg, opts)
  assert.is_table(spec, errs and table.concat(errs, "\n"))
  return spec
end

local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

local function find_mount(spec, target, ty)
  for _, m in ipairs(spec.mounts) do
    if m.target == target and (ty == nil or m.type == ty) then return m end
  end
end

describe("nslua.oci.config", function()
  describe("load", function()
    local dir
    before_each(function() dir = helper.tmpdir() end)
    after_each(function() helper.rmtree(dir) end)

    it("reads BUNDLE/config.json, null as absent", function()
      write(dir .. "/config.json", '{"ociVersion": "1.0.2", "hostname": null, "process": {"args": ["a"]}}')
      local cfg = assert(config.load(dir))
      assert.equal("1.0.2", cfg.ociVersion)
      assert.same({ "a" }, cfg.process.args)
      assert.equal(cjson.null, cfg.hostname)
      local _, errs = config.to_spec(cfg, { bundle = dir })
      for _, e in ipairs(errs) do assert.not_match("^hostname", e) end
    end)

    it("names the file and the JSON error", function()
      write(dir .. "/config.json", '{"ociVersion": ')
      local cfg, err = config.load(dir)
      assert.is_nil(cfg)
      assert.match("^" .. dir:gsub("%p", "%%%0") .. "/config.json: invalid JSON: ", err)
    end)

    it("names a missing file", function()
      local cfg, err = config.load(dir .. "/nope")
      assert.is_nil(cfg)
      assert.match("nope/config.json", err)
    end)

    it("refuses a JSON value that is not an object", function()
      write(dir .. "/config.json", "[1, 2]")
      local cfg, err = config.load(dir)
      assert.is_nil(cfg)
      assert.equal(dir .. "/config.json: must hold a JSON object", err)
    end)
  end)

  describe("default", function()
    it("converts without error", function()
      local spec = assert_ok(config.default(false))
      assert.same({ "sh" }, spec.argv)
      assert.equal("nslua", spec.hostname)
      assert.equal("none", spec.base)
      assert.is_false(spec.init)
      assert.same({}, spec.keep_env)
      assert.same({ PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", TERM = "xterm" },
        spec.env)
      assert.is_true(spec.tty)
      assert.is_true(spec.no_new_privs)
      assert.same({ nofile = { soft = 1024, hard = 1024 } }, spec.rlimits)
      assert.same({ "audit_write", "kill", "net_bind_service" }, spec.caps.bounding)
      assert.same({}, spec.caps.inheritable)
      assert.same({ user = false, pid = true, net = true, ipc = true, uts = true, mnt = true,
                    cgroup = false, time = false }, spec.namespaces)
      assert.same({ uid = 0, gid = 0, groups = {}, map = "host" }, spec.user)
      -- root.readonly: the root is remounted read-only after every mount
      assert.same({ type = "bind", source = "/b/rootfs", target = "/", recursive = true, ro = false },
        spec.mounts[1])
      assert.same({ type = "remount-ro", target = "/" }, spec.mounts[#spec.mounts])
      assert.equal("none", spec.seccomp)
      assert.equal(10, #spec.masks.masked)
      assert.equal(5, #spec.masks.readonly)
      assert.equal("c1", spec.name)
    end)

    it("rootless converts: a user namespace with the caller's ids, no network", function()
      local spec = assert_ok(config.default(true, { uid = 1000, gid = 1001 }))
      assert.is_true(spec.namespaces.user)
      assert.is_false(spec.namespaces.net)
      assert.same({ uid = 0, gid = 0, groups = {}, map = "explicit",
                    uid_map = { { inside = 0, outside = 1000, count = 1 } },
                    gid_map = { { inside = 0, outside = 1001, count = 1 } } }, spec.user)
      local sys = find_mount(spec, "/sys")
      assert.same({ type = "bind", source = "/sys", target = "/sys", recursive = true, ro = true,
                    nosuid = true, nodev = true, noexec = true }, sys)
      assert.equal("newinstance,ptmxmode=0666,mode=0620", find_mount(spec, "/dev/pts").data)
    end)

    it("rootless without ids uses the caller's effective ids", function()
      local cfg = config.default(true)
      local proc = require("nslua.core").proc
      assert.equal(proc.geteuid(), cfg.linux.uidMappings[1].hostID)
      assert.equal(proc.getegid(), cfg.linux.gidMappings[1].hostID)
    end)

    describe("is what runc spec writes", function()
      local dir
      before_each(function() dir = helper.tmpdir() end)
      after_each(function() helper.rmtree(dir) end)

      local function runc_spec(rootless)
        os.remove(dir .. "/config.json")
        local ok, out = helper.sh(("cd %s && %s spec %s"):format(helper.quote(dir), RUNC,
          rootless and "--rootless" or ""))
        assert.is_true(ok, out)
        return assert(config.load(dir))
      end

      for _, rootless in ipairs { false, true } do
        it(rootless and "(--rootless)" or "(plain)", function()
          if not helper.exists(RUNC) then return pending("runc is not installed") end
          local runc = runc_spec(rootless)
          local proc = require("nslua.core").proc
          local mine = as_json(config.default(rootless, { uid = proc.geteuid(), gid = proc.getegid() }))
          assert.equal("runc", runc.hostname)
          runc.hostname = "nslua"
          assert.same(runc, mine)
        end)
      end

      it("runc spec's config converts", function()
        if not helper.exists(RUNC) then return pending("runc is not installed") end
        for _, rootless in ipairs { false, true } do
          local spec, errs = config.to_spec(runc_spec(rootless), { bundle = dir, id = "r" })
          assert.is_table(spec, errs and table.concat(errs, "\n"))
          assert.equal("runc", spec.hostname)
          assert.equal(dir .. "/rootfs", spec.mounts[1].source)
        end
      end)
    end)
  end)

  describe("to_spec", function()
    it("needs a table", function()
      assert.same({ "config: must be a JSON object" }, select(2, config.to_spec("x", {})))
    end)

    it("podman's own config.json converts", function()
      local spec = assert_ok(cjson.decode(PODMAN_CONFIG), { need_process = true })
      assert.same({ "/bin/sh", "-c", "true" }, spec.argv)
      assert.equal(18, spec.umask)
      assert.same({ net = "/run/netns/netns-0b9d7bba-0775-c111-85c2-f66b8556355b" }, spec.join)
      assert.same({ ["net.ipv4.ping_group_range"] = "0 0" }, spec.sysctl)
      assert.same({ pids = 2048 }, spec.limits)
      assert.equal("/libpod_parent/libpod-7ed3225cde6a", spec.cgroup_path)
      assert.same({ type = "bind", source = "/var/c/userdata/shm", target = "/dev/shm", recursive = false,
                    ro = false, nosuid = true, nodev = true, noexec = true, propagation = "rprivate" },
        find_mount(spec, "/dev/shm"))
      assert.same({ soft = 32768, hard = 32768 }, spec.rlimits.nproc)
      assert.equal(11, #spec.caps.bounding)
      assert.same({}, spec.caps.ambient)
    end)

    it("ignores annotations and the other platforms' sections", function()
      local spec = assert_ok(with(function(c)
        c.annotations = { ["org.example/a"] = "b" }
        c.solaris, c.windows, c.vm = { x = 1 }, { y = 2 }, { hypervisor = {} }
      end))
      assert.is_nil(spec.annotations)
    end)

    it("accepts versions 1.0 to 1.2", function()
      for _, v in ipairs { "1.0.0", "1.0.2-dev", "1.1.0", "1.1.0-rc.1", "1.2.0", "1.2.1" } do
        assert_ok(with(function(c) c.ociVersion = v end))
      end
    end)

    it("turns env into a table, every entry, no nslua defaults", function()
      local spec = assert_ok(with(function(c) c.process.env = { "A=1", "B=x=y", "C=", "A=2" } end))
      assert.same({ A = "2", B = "x=y", C = "" }, spec.env)
      assert.same({}, spec.keep_env)
    end)

    it("process fields", function()
      local spec = assert_ok(with(function(c)
        c.process.user = { uid = 1000, gid = 100, additionalGids = { 5, 10 }, umask = 18 }
        c.process.oomScoreAdj = -500
        c.process.terminal = false
        c.process.cwd = "/work"
        c.process.apparmorProfile = ""
        c.process.selinuxLabel = ""
        c.process.capabilities = { bounding = { "CAP_CHOWN", "CAP_SYS_ADMIN" }, effective = { "CAP_CHOWN" } }
      end))
      assert.same({ uid = 1000, gid = 100, groups = { 5, 10 }, map = "host" }, spec.user)
      assert.equal(18, spec.umask)
      assert.equal(-500, spec.oom_score_adj)
      assert.is_false(spec.tty)
      assert.equal("/work", spec.cwd)
      assert.same({ bounding = { "chown", "sys_admin" }, effective = { "chown" }, permitted = {},
                    inheritable = {}, ambient = {} }, spec.caps)
    end)

    it("no capabilities member: no capabilities", function()
      local spec = assert_ok(with(function(c) c.process.capabilities = nil end))
      assert.same({}, spec.caps)
    end)

    it("rlimits: every RLIMIT_ name, RLIM_INFINITY as unlimited", function()
      local spec = assert_ok(with(function(c)
        c.process.rlimits = {
          { type = "RLIMIT_NOFILE", soft = 1024, hard = 4096 },
          { type = "RLIMIT_CORE", soft = 0, hard = 18446744073709551615 },
          { type = "RLIMIT_MSGQUEUE", soft = 819200, hard = 819200 },
          { type = "RLIMIT_RTTIME", soft = 1, hard = 2 },
        }
      end))
      assert.same({ nofile = { soft = 1024, hard = 4096 }, core = { soft = 0, hard = "unlimited" },
                    msgqueue = { soft = 819200, hard = 819200 }, rttime = { soft = 1, hard = 2 } },
        spec.rlimits)
    end)

    it("namespaces with a path are joined", function()
      local spec = assert_ok(with(function(c)
        c.linux.namespaces = { { type = "pid" }, { type = "network", path = "/var/run/netns/x" },
                               { type = "ipc", path = "/proc/123/ns/ipc" }, { type = "mount" },
                               { type = "uts" }, { type = "cgroup" }, { type = "time" } }
      end))
      assert.same({ net = "/var/run/netns/x", ipc = "/proc/123/ns/ipc" }, spec.join)
      assert.is_false(spec.namespaces.net)
      assert.is_false(spec.namespaces.ipc)
      assert.is_true(spec.namespaces.pid)
      assert.is_true(spec.namespaces.cgroup)
      assert.is_true(spec.namespaces.time)
    end)

    it("a joined user namespace writes no maps", function()
      local spec = assert_ok(with(function(c)
        c.linux.namespaces[#c.linux.namespaces + 1] = { type = "user", path = "/proc/1/ns/user" }
      end))
      assert.equal("host", spec.user.map)
      assert.same({ user = "/proc/1/ns/user" }, spec.join)
    end)

    it("a joined uts namespace takes the hostname", function()
      local spec = assert_ok(with(function(c) c.linux.namespaces[4] = { type = "uts", path = "/proc/1/ns/uts" } end))
      assert.equal("nslua", spec.hostname)
    end)

    it("domainname, sysctl, propagation, personality, cgroupsPath, time offsets", function()
      local spec = assert_ok(with(function(c)
        c.domainname = "example.org"
        c.linux.sysctl = { ["net.ipv4.ip_forward"] = "1", ["kernel.shmmax"] = "100",
                           ["fs.mqueue.msg_max"] = "20", ["kernel.domainname"] = "x" }
        c.linux.rootfsPropagation = "rslave"
        c.linux.personality = { domain = "LINUX32" }
        c.linux.cgroupsPath = "/machine/c1"
        c.linux.namespaces[#c.linux.namespaces + 1] = { type = "time" }
        c.linux.timeOffsets = { monotonic = { secs = -5, nanosecs = 250 }, boottime = { secs = 86400 } }
      end))
      assert.equal("example.org", spec.domainname)
      assert.same({ monotonic = { secs = -5, nanosecs = 250 }, boottime = { secs = 86400, nanosecs = 0 } },
        spec.time_offsets)
      assert.same({ ["net.ipv4.ip_forward"] = "1", ["kernel.shmmax"] = "100",
                    ["fs.mqueue.msg_max"] = "20", ["kernel.domainname"] = "x" }, spec.sysctl)
      assert.equal("rslave", spec.rootfs_propagation)
      assert.equal("linux32", spec.personality)
      assert.equal("/machine/c1", spec.cgroup_path)
      assert.is_true(spec.namespaces.time)
    end)

    it("masks are exactly the config's (empty when absent)", function()
      local spec = assert_ok(with(function(c) c.linux.maskedPaths, c.linux.readonlyPaths = nil, nil end))
      assert.same({ masked = {}, readonly = {} }, spec.masks)
    end)

    it("copies hooks unchanged", function()
      local hooks = {
        prestart = { { path = "/usr/bin/hook", args = { "hook", "prestart" }, env = { "A=b" }, timeout = 5 } },
        poststop = { { path = "/bin/true" } },
        createRuntime = {},
      }
      local spec = assert_ok(with(function(c) c.hooks = deep_copy(hooks) end))
      assert.same(hooks, spec.hooks_oci)
      assert.equal("integer", math.type(spec.hooks_oci.prestart[1].timeout))
    end)

    describe("devices", function()
      it("adds runc's default devices and /dev links after the mounts", function()
        local spec = assert_ok(config.default(false))
        local n = #spec.mounts - 1   -- (the last remounts the read-only root)
        assert.same({ type = "symlink", source = "pts/ptmx", target = "/dev/ptmx" }, spec.mounts[n])
        assert.same({ type = "device", target = "/dev/null", kind = "c", major = 1, minor = 3,
                      mode = 438, uid = 0, gid = 0 }, find_mount(spec, "/dev/null"))
        for _, d in ipairs { "zero", "full", "random", "urandom", "tty" } do
          assert.is_table(find_mount(spec, "/dev/" .. d, "device"), d)
        end
        for _, l in ipairs { "fd", "stdin", "stdout", "stderr" } do
          assert.is_table(find_mount(spec, "/dev/" .. l, "symlink"), l)
        end
      end)

      it("linux.devices: c, u, b and p, fileMode default 0666; a config device replaces a default", function()
        local spec = assert_ok(with(function(c)
          c.linux.devices = {
            { path = "/dev/fuse", type = "c", major = 10, minor = 229, fileMode = 432, uid = 0, gid = 0 },
            { path = "/dev/sda", type = "b", major = 8, minor = 0 },
            { path = "/dev/ttyX", type = "u", major = 4, minor = 64, uid = 5, gid = 6 },
            { path = "/dev/fifo", type = "p" },
            { path = "/dev/null", type = "c", major = 1, minor = 3, fileMode = 420 },
          }
        end))
        assert.same({ type = "device", target = "/dev/fuse", kind = "c", major = 10, minor = 229,
                      mode = 432, uid = 0, gid = 0 }, find_mount(spec, "/dev/fuse"))
        assert.equal(438, find_mount(spec, "/dev/sda").mode)
        assert.equal("b", find_mount(spec, "/dev/sda").kind)
        assert.same({ type = "device", target = "/dev/ttyX", kind = "c", major = 4, minor = 64,
                      mode = 438, uid = 5, gid = 6 }, find_mount(spec, "/dev/ttyX"))
        assert.equal("p", find_mount(spec, "/dev/fifo").kind)
        -- and the executor takes every kind (runtime-tools' linux_devices)
        -- (less the front end's own fields, as the CLI takes them off)
        spec.oci_resources, spec.hooks_oci, spec.cgroup_path = nil, nil, nil
        local out, errs = validate.check(spec)
        assert.is_table(out, table.concat(errs or {}, "\n"))
        local nulls = 0
        for _, m in ipairs(spec.mounts) do
          if m.target == "/dev/null" then
            nulls = nulls + 1
            assert.equal(420, m.mode)
          end
        end
        assert.equal(1, nulls)
      end)

      it("a bind of /dev gets no devices and no links", function()
        local spec = assert_ok(with(function(c)
          c.mounts[2] = { destination = "/dev", type = "bind", source = "/dev", options = { "rbind" } }
          c.linux.devices = { { path = "/dev/fuse", type = "c", major = 10, minor = 229 } }
        end))
        assert.is_nil(find_mount(spec, "/dev/null", "device"))
        assert.is_nil(find_mount(spec, "/dev/fuse", "device"))
        assert.is_nil(find_mount(spec, "/dev/ptmx", "symlink"))
      end)
    end)
  end)

  describe("mount options", function()
    local cases = {
      { { "ro" }, { ro = true } },
      { { "ro", "rw" }, { ro = false } },
      { { "nosuid", "suid" }, { nosuid = false } },
      { { "nosuid", "nodev", "noexec" }, { nosuid = true, nodev = true, noexec = true } },
      { { "dev", "exec" }, { nodev = false, noexec = false } },
      { { "bind" }, { bind = true } },
      { { "rbind" }, { bind = true, recursive = true } },
      { { "rprivate" }, { propagation = "rprivate" } },
      { { "shared", "rslave" }, { propagation = "rslave" } },
      { { "private" }, { propagation = "private" } },
      { { "rshared" }, { propagation = "rshared" } },
      { { "slave" }, { propagation = "slave" } },
      { { "unbindable" }, { propagation = "unbindable" } },
      { { "runbindable" }, { propagation = "runbindable" } },
      { { "relatime", "norelatime", "noatime", "strictatime", "nodiratime", "tmpcopyup" }, {} },
      { { "idmap" }, { idmap = true } },
      { { "ridmap" }, { idmap = true } },
      { { "rro", "rnosuid" }, { ro = true, nosuid = true } },
      { { "mode=755", "size=65536k", "newinstance", "ptmxmode=0666", "gid=5" },
        { data = { "mode=755", "size=65536k", "newinstance", "ptmxmode=0666", "gid=5" } } },
    }
    for _, c in ipairs(cases) do
      it(table.concat(c[1], ","), function()
        local want = deep_copy(c[2])
        want.data = want.data or {}
        assert.same(want, config.parse_options(c[1]))
      end)
    end

    local mounts = {
      { "bind type", { destination = "/m", type = "bind", source = "/src", options = { "ro" } },
        { type = "bind", source = "/src", target = "/m", recursive = false, ro = true } },
      { "bind ignores file system data, as the kernel does",
        { destination = "/m", source = "/src", options = { "bind", "mode=755", "z" } },
        { type = "bind", source = "/src", target = "/m", recursive = false, ro = false } },
      { "rbind option, any type, relative source from the bundle",
        { destination = "/m", type = "none", source = "data", options = { "rbind", "nosuid", "rprivate" } },
        { type = "bind", source = "/b/data", target = "/m", recursive = true, ro = false, nosuid = true,
          propagation = "rprivate" } },
      { "idmap bind with mappings",
        { destination = "/m", type = "bind", source = "/src", options = { "bind", "idmap" },
          uidMappings = { { containerID = 0, hostID = 1000, size = 1 } },
          gidMappings = { { containerID = 0, hostID = 1000, size = 1 } } },
        { type = "bind-idmap", source = "/src", target = "/m", recursive = false, ro = false,
          idmap = { uid_map = { { inside = 0, outside = 1000, count = 1 } },
                    gid_map = { { inside = 0, outside = 1000, count = 1 } } } } },
      { "idmap bind without mappings",
        { destination = "/m", source = "/src", options = { "rbind", "idmap" } },
        { type = "bind-idmap", source = "/src", target = "/m", recursive = true, ro = false } },
      { "tmpfs size and mode, the rest as data",
        { destination = "/t", type = "tmpfs", source = "tmpfs",
          options = { "nosuid", "size=1m", "mode=1777", "nr_inodes=100", "uid=5" } },
        { type = "tmpfs", target = "/t", ro = false, nosuid = true, size = 1048576, mode = 1023,
          data = "nr_inodes=100,uid=5" } },
      { "devpts data", { destination = "/dev/pts", type = "devpts", source = "devpts",
                         options = { "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5" } },
        { type = "devpts", target = "/dev/pts", nosuid = true, noexec = true,
          data = "newinstance,ptmxmode=0666,mode=0620,gid=5" } },
      { "cgroup", { destination = "/sys/fs/cgroup", type = "cgroup", source = "cgroup", options = { "ro", "nosuid" } },
        { type = "cgroup", target = "/sys/fs/cgroup", ro = true } },
      { "cgroup2", { destination = "/sys/fs/cgroup", type = "cgroup2", source = "cgroup2" },
        { type = "cgroup", target = "/sys/fs/cgroup", ro = false } },
      { "mqueue", { destination = "/dev/mqueue", type = "mqueue", source = "mqueue", options = { "nodev" } },
        { type = "mqueue", target = "/dev/mqueue", ro = false, nodev = true } },
      { "sysfs keeps ro = false explicit", { destination = "/sys", type = "sysfs", source = "sysfs" },
        { type = "sysfs", target = "/sys", ro = false } },
      { "proc", { destination = "/proc", type = "proc", source = "proc", options = { "noexec" } },
        { type = "proc", target = "/proc", ro = false, noexec = true } },
      { "proc hidepid", { destination = "/proc", type = "proc", source = "proc", options = { "hidepid=invisible" } },
        { type = "proc", target = "/proc", ro = false, hidepid = 2 } },
      { "overlay", { destination = "/o", type = "overlay", source = "overlay",
                     options = { "lowerdir=/l1:/l2", "upperdir=/u", "workdir=/w", "index=off" } },
        { type = "overlay", target = "/o", ro = false, lower = { "/l1", "/l2" }, upper = "/u", work = "/w",
          data = "index=off" } },
    }
    for _, c in ipairs(mounts) do
      it("mount: " .. c[1], function()
        local spec = assert_ok(with(function(cfg) cfg.mounts = { c[2] } end))
        local got = spec.mounts[2]
        -- a file system's source is its OCI source (the name mountinfo shows)
        local fs = { tmpfs = true, proc = true, mqueue = true, sysfs = true, devpts = true }
        if got and c[3].source == nil and fs[got.type] then
          assert.equal(c[2].source, got.source)
          got.source = nil
        end
        assert.same(c[3], got)
      end)
    end
  end)

  describe("resources", function()
    it("memory, swap (OCI: memory + swap), pids, cpu quota/period, cpuset", function()
      local spec = assert_ok(with(function(c)
        c.linux.resources = {
          memory = { limit = 104857600, swap = 209715200, reservation = 1000, swappiness = 10 },
          pids = { limit = 64 },
          cpu = { quota = 50000, period = 100000, shares = 512, cpus = "0-1", mems = "0" },
          blockIO = { weight = 100, throttleReadBpsDevice = { { major = 8, minor = 0, rate = 1000 } } },
          hugepageLimits = { { pageSize = "2MB", limit = 0 } },
          network = { classID = 1 },
          rdma = { mlx5_0 = { hcaHandles = 3 } },
          unified = { ["memory.high"] = "50000000" },
          devices = { { allow = false, access = "rwm" }, { allow = true, type = "c", major = 1, minor = 3,
                                                           access = "rwm" } },
        }
      end))
      assert.same({ memory = 104857600, swap = 104857600, pids = 64, cpus = 0.5, cpuset = "0-1" }, spec.limits)
      assert.equal(512, spec.oci_resources.cpu.shares)
      assert.equal(100, spec.oci_resources.blockIO.weight)
      assert.equal("50000000", spec.oci_resources.unified["memory.high"])
      assert.equal(2, #spec.oci_resources.devices)
    end)

    it("swap equal to memory is no swap; -1 and 0 limits are unlimited", function()
      local spec = assert_ok(with(function(c)
        c.linux.resources = { memory = { limit = 1048576, swap = 1048576 }, pids = { limit = 0 },
                              cpu = { quota = -1 } }
      end))
      assert.same({ memory = 1048576, swap = 0 }, spec.limits)
      spec = assert_ok(with(function(c)
        c.linux.resources = { memory = { limit = -1, swap = -1 }, pids = { limit = -1 } }
      end))
      assert.is_nil(spec.limits)
      spec = assert_ok(with(function(c)
        c.linux.resources = { memory = { limit = 9223372036854775807 }, pids = { limit = 9223372036854775807 } }
      end))
      assert.is_nil(spec.limits)
    end)

    it("quota without period uses the default 100 ms period", function()
      local spec = assert_ok(with(function(c) c.linux.resources = { cpu = { quota = 150000 } } end))
      assert.equal(1.5, spec.limits.cpus)
    end)
  end)

  describe("seccomp", function()
    it("routes SCMP_ACT_NOTIFY to listenerPath with metadata, bundle and annotations", function()
      local spec = assert_ok(with(function(c)
        c.annotations = { ["org.example/k"] = "v" }
        c.linux.seccomp = {
          defaultAction = "SCMP_ACT_ERRNO", listenerPath = "/run/agent.sock", listenerMetadata = "m=1",
          syscalls = {
            -- Docker's profile allows mkdir; an agent's profile adds it again
            { names = { "mkdir", "mkdirat", "read", "write", "execve" }, action = "SCMP_ACT_ALLOW" },
            { names = { "mkdir", "mkdirat" }, action = "SCMP_ACT_NOTIFY" },
          },
        }
      end))
      assert.same({ path = "/run/agent.sock", metadata = "m=1", bundle = BUNDLE,
                    annotations = { ["org.example/k"] = "v" } }, spec.seccomp_listener)
      assert.is_true(seccomp.has_listener(spec.seccomp))
      local prep = assert(seccomp.prepare(spec.seccomp))
      assert.is_true(prep.listener)
      assert.is_string(prep.notify)
      assert.same({ "mkdir", "mkdirat" }, prep.names)
      -- no SCMP_ACT_NOTIFY, no listener: listenerPath alone is ignored (runtime spec)
      spec = assert_ok(with(function(c)
        c.linux.seccomp = { defaultAction = "SCMP_ACT_ALLOW", listenerPath = "/run/agent.sock" }
      end))
      assert.is_nil(spec.seccomp_listener)
    end)

    it("converts actions, errno, arches and argument comparisons", function()
      local spec = assert_ok(with(function(c)
        c.linux.seccomp = {
          defaultAction = "SCMP_ACT_ERRNO", defaultErrnoRet = 38,
          architectures = { "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32" },
          flags = { "SECCOMP_FILTER_FLAG_LOG" },
          syscalls = {
            { names = { "read", "write" }, action = "SCMP_ACT_ALLOW" },
            { names = { "personality" }, action = "SCMP_ACT_ALLOW",
              args = { { index = 0, value = 8, op = "SCMP_CMP_EQ" } } },
            { names = { "clone" }, action = "SCMP_ACT_ALLOW",
              args = { { index = 0, value = 2114060288, valueTwo = 0, op = "SCMP_CMP_MASKED_EQ" } } },
            { names = { "socket" }, action = "SCMP_ACT_ERRNO", errnoRet = 22,
              args = { { index = 0, value = 16, op = "SCMP_CMP_EQ" }, { index = 0, value = 40, op = "SCMP_CMP_EQ" } } },
            { names = { "ptrace" }, action = "SCMP_ACT_TRACE", errnoRet = 7 },
            { names = { "kexec_load" }, action = "SCMP_ACT_KILL" },
            { names = { "reboot" }, action = "SCMP_ACT_KILL_PROCESS" },
            { names = { "acct" }, action = "SCMP_ACT_LOG" },
            { names = { "uselib" }, action = "SCMP_ACT_TRAP" },
            { names = { "not_a_syscall_at_all" }, action = "SCMP_ACT_ALLOW" },
          },
        }
      end))
      local p = spec.seccomp
      assert.is_true(seccomp.validate(p))
      assert.same({ errno = 38 }, p.default)
      assert.equal("enosys", p.unknown_above)
      assert.same({ "native", "x86_64", "x86", "x32" }, p.arches)
      local s = p.syscalls
      assert.same({ names = { "read", "write" }, action = "allow" }, s[1])
      assert.same({ { index = 0, op = "eq", value = 8 } }, s[2].args)
      assert.same({ { index = 0, op = "masked_eq", mask = 2114060288, value = 0 } }, s[3].args)
      -- two comparisons of one argument: separate rules, as runc adds them
      assert.same({ names = { "socket" }, action = { errno = 22 }, args = { { index = 0, op = "eq", value = 16 } } },
        s[4])
      assert.same({ names = { "socket" }, action = { errno = 22 }, args = { { index = 0, op = "eq", value = 40 } } },
        s[5])
      assert.same({ trace = 7 }, s[6].action)
      assert.equal("kill_thread", s[7].action)
      assert.equal("kill_process", s[8].action)
      assert.equal("log", s[9].action)
      assert.equal("trap", s[10].action)
      -- a name libseccomp does not know, in an allow rule, is skipped (runc)
      assert.equal(10, #s)
    end)

    it("an allowing default has no ENOSYS tail; 2^64-1 is all ones", function()
      local spec = assert_ok(with(function(c)
        c.linux.seccomp = { defaultAction = "SCMP_ACT_ALLOW", syscalls = {
          { names = { "ioctl" }, action = "SCMP_ACT_ERRNO",
            args = { { index = 1, value = 18446744073709551615, valueTwo = 21522, op = "SCMP_CMP_MASKED_EQ" } } },
        } }
      end))
      assert.equal("allow", spec.seccomp.default)
      assert.is_nil(spec.seccomp.unknown_above)
      assert.same({ { index = 1, op = "masked_eq", mask = -1, value = 21522 } }, spec.seccomp.syscalls[1].args)
      assert.same({ errno = 1 }, spec.seccomp.syscalls[1].action)
    end)

    it("Docker's includes/excludes read process.capabilities.bounding; unknown members are ignored", function()
      local function rules(bounding)
        local spec = assert_ok(with(function(c)
          c.process.capabilities.bounding = bounding
          c.linux.seccomp = { defaultAction = "SCMP_ACT_ERRNO", vendorExtension = true, syscalls = {
            { names = { "unshare" }, action = "SCMP_ACT_ALLOW", includes = { caps = { "CAP_SYS_ADMIN" } } },
            { names = { "clone3" }, action = "SCMP_ACT_ERRNO", errnoRet = 38,
              excludes = { caps = { "CAP_SYS_ADMIN" } } } } }
        end))
        return spec.seccomp.syscalls
      end
      local s = rules({ "CAP_KILL" })
      assert.equal(1, #s)
      assert.same({ "clone3" }, s[1].names)
      s = rules({ "CAP_KILL", "CAP_SYS_ADMIN" })
      assert.equal(1, #s)
      assert.same({ "unshare" }, s[1].names)
    end)

    -- podman's profile is Docker's format (archMap, includes/excludes by
    -- arch and capability); podman hands the runtime its OCI form.  This is
    -- that step, for x86_64 and podman's default capabilities.
    local PODMAN_CAPS = {
      CAP_CHOWN = true, CAP_DAC_OVERRIDE = true, CAP_FOWNER = true, CAP_FSETID = true, CAP_KILL = true,
      CAP_NET_BIND_SERVICE = true, CAP_SETFCAP = true, CAP_SETGID = true, CAP_SETPCAP = true,
      CAP_SETUID = true, CAP_SYS_CHROOT = true,
    }
    local function docker_to_oci(d)
      local out = { defaultAction = d.defaultAction, defaultErrnoRet = d.defaultErrnoRet, syscalls = {} }
      for _, a in ipairs(d.archMap or {}) do
        if a.architecture == "SCMP_ARCH_X86_64" then
          out.architectures = { a.architecture, table.unpack(a.subArchitectures) }
        end
      end
      local function any(list, f)
        for _, x in ipairs(list ~= cjson.null and list or {}) do
          if f(x) then return true end
        end
        return false
      end
      for _, s in ipairs(d.syscalls) do
        local inc = s.includes ~= cjson.null and s.includes or {}
        local exc = s.excludes ~= cjson.null and s.excludes or {}
        local keep = true
        if inc.arches and #inc.arches > 0 and not any(inc.arches, function(a) return a == "amd64" end) then
          keep = false
        end
        if any(exc.arches, function(a) return a == "amd64" end) then keep = false end
        if any(inc.caps, function(c) return not PODMAN_CAPS[c] end) then keep = false end
        if any(exc.caps, function(c) return PODMAN_CAPS[c] end) then keep = false end
        if keep then
          out.syscalls[#out.syscalls + 1] = { names = s.names, action = s.action, args = s.args,
                                              errnoRet = s.errnoRet }
        end
      end
      return out
    end

    it("podman's default profile converts and validates", function()
      local f = io.open(PODMAN_SECCOMP)
      if not f then return pending("podman's seccomp.json is not installed") end
      local docker = cjson.decode(f:read("a"))
      f:close()
      local spec = assert_ok(with(function(c) c.linux.seccomp = docker_to_oci(docker) end))
      local ok, err = seccomp.validate(spec.seccomp)
      assert.is_true(ok, err)
      assert.same({ errno = 38 }, spec.seccomp.default)
      assert.is_true(#spec.seccomp.syscalls > 10)
      local bpf, cerr = seccomp.compile(spec.seccomp)
      assert.is_string(bpf, cerr)
    end)
  end)

  describe("errors name the JSON path", function()
    local NS_USER = { type = "user" }
    local cases = {
      { "ociVersion: is required", function(c) c.ociVersion = nil end },
      { 'ociVersion: unsupported version "2.0.0" (nslua-oci reads 1.0.0 to 1.2.x)',
        function(c) c.ociVersion = "2.0.0" end },
      { 'ociVersion: unsupported version "1.3.0" (nslua-oci reads 1.0.0 to 1.2.x)',
        function(c) c.ociVersion = "1.3.0" end },
      { "ociVersion: must be a string", function(c) c.ociVersion = 1 end },
      { "process.args: must be a non-empty array of strings", function(c) c.process.args = {} end },
      { "process.args: must be a non-empty array of strings", function(c) c.process.args = nil end },
      { "process.args[1]: must be a string", function(c) c.process.args = { "sh", 5 } end },
      { "process.cwd: must be an absolute path", function(c) c.process.cwd = "work" end },
      { "process.cwd: is required (an absolute path)", function(c) c.process.cwd = nil end },
      { "process.env[1]: must be NAME=value (not 'FOO')", function(c) c.process.env = { "A=b", "FOO" } end },
      { "process.env: must be an array", function(c) c.process.env = "A=b" end },
      { "process.terminal: must be a boolean", function(c) c.process.terminal = "yes" end },
      { "process.user.uid: must be an integer in 0..4294967295", function(c) c.process.user.uid = -1 end },
      { "process.user.gid: must be an integer in 0..4294967295", function(c) c.process.user.gid = 1.5 end },
      { "process.user.additionalGids[1]: must be an integer in 0..4294967295",
        function(c) c.process.user.additionalGids = { 1, "x" } end },
      { "process.user.umask: must be an integer in 0..511", function(c) c.process.user.umask = 1000 end },
      { "process.user: is required (an object with uid and gid)", function(c) c.process.user = nil end },
      { "process.user.gid: is required", function(c) c.process.user = { uid = 0 } end },
      { "process.user: must be an object", function(c) c.process.user = 0 end },
      { 'process.capabilities.bounding[1]: unknown capability "CAP_FOO"',
        function(c) c.process.capabilities.bounding[2] = "CAP_FOO" end },
      { "process.capabilities.effective: must be an array",
        function(c) c.process.capabilities.effective = "CAP_KILL" end },
      { "process.capabilities.everything: unknown capability set",
        function(c) c.process.capabilities.everything = {} end },
      { 'process.rlimits[0].type: unknown rlimit "RLIMIT_FOO"',
        function(c) c.process.rlimits[1].type = "RLIMIT_FOO" end },
      { 'process.rlimits[1].type: duplicate rlimit "RLIMIT_NOFILE"',
        function(c) c.process.rlimits[2] = { type = "RLIMIT_NOFILE", soft = 1, hard = 1 } end },
      { "process.rlimits[0].soft: must not be above hard",
        function(c) c.process.rlimits[1].soft = 2048 end },
      { "process.rlimits[0].hard: must be an integer >= 0", function(c) c.process.rlimits[1].hard = -1 end },
      { "process.noNewPrivileges: must be a boolean", function(c) c.process.noNewPrivileges = 1 end },
      { "process.oomScoreAdj: must be an integer in -1000..1000", function(c) c.process.oomScoreAdj = 5000 end },
      { "process.apparmorProfile: nslua does not apply AppArmor profiles (remove it, or use runc)",
        function(c) c.process.apparmorProfile = "docker-default" end },
      { "process.selinuxLabel: nslua does not apply SELinux labels (remove it, or use runc)",
        function(c) c.process.selinuxLabel = "system_u:system_r:container_t:s0" end },
      { "process.ioPriority: nslua does not support I/O priorities (remove it, or use runc)",
        function(c) c.process.ioPriority = { class = "IOPRIO_CLASS_IDLE" } end },
      { "process: must be an object", function(c) c.process = "sh" end },
      { "root: is required (an object with path)", function(c) c.root = nil end },
      { "root.path: must be a non-empty string", function(c) c.root.path = nil end },
      { "root.readonly: must be a boolean", function(c) c.root.readonly = "yes" end },
      { 'hostname: needs the container\'s own uts namespace (linux.namespaces type "uts")',
        function(c) table.remove(c.linux.namespaces, 4) end },
      { 'domainname: needs the container\'s own uts namespace (linux.namespaces type "uts")',
        function(c) c.hostname = nil; c.domainname = "x"; table.remove(c.linux.namespaces, 4) end },
      { "mounts: must be an array", function(c) c.mounts = { x = 1 } end },
      { "mounts[3].destination: must be an absolute path (not 'dev/shm')",
        function(c) c.mounts[4].destination = "dev/shm" end },
      { "mounts[0].destination: is required", function(c) c.mounts[1].destination = nil end },
      { 'mounts[6].type: unsupported file system type "ext4" (nslua mounts bind, tmpfs, proc, sysfs, '
        .. "mqueue, devpts, cgroup, cgroup2 and overlay)", function(c) c.mounts[7].type = "ext4" end },
      { "mounts[1].type: is required unless the options hold bind or rbind",
        function(c) c.mounts[2].type = "none" end },
      { 'mounts[3].options: tmpfs size "50%": nslua takes a size in bytes with k, m or g (not a percentage)',
        function(c) c.mounts[4].options[5] = "size=50%" end },
      { 'mounts[3].options: tmpfs mode "abc": must be an octal mode',
        function(c) c.mounts[4].options[4] = "mode=abc" end },
      { "mounts[0].options[1]: must be a string", function(c) c.mounts[1].options = { "ro", 3 } end },
      { "mounts[7].source: is required for a bind mount",
        function(c) c.mounts[8] = { destination = "/x", type = "bind" } end },
      { 'mounts[0].options: unknown proc mount option "subset=pid"',
        function(c) c.mounts[1].options = { "subset=pid" } end },
      { 'mounts[0].options: proc hidepid "3": must be 0, 1, 2, off, noaccess or invisible',
        function(c) c.mounts[1].options = { "hidepid=3" } end },
      { "mounts[1].options: idmap applies to bind mounts only",
        function(c) c.mounts[2].options[5] = "idmap" end },
      { "mounts[7].options: an overlay needs lowerdir=DIR[:DIR...]",
        function(c)
          c.mounts[8] = { destination = "/o", type = "overlay", options = { "upperdir=/u", "workdir=/w" } }
        end },
      { "mounts[7].uidMappings[0].size: must be an integer in 1..4294967295",
        function(c)
          c.mounts[8] = { destination = "/x", source = "/y", type = "bind", options = { "idmap" },
                          uidMappings = { { containerID = 0, hostID = 1, size = 0 } },
                          gidMappings = { { containerID = 0, hostID = 1, size = 1 } } }
        end },
      { 'linux.namespaces[1].type: unknown namespace "foo"',
        function(c) c.linux.namespaces[2].type = "foo" end },
      { 'linux.namespaces[5].type: namespace "pid" given twice',
        function(c) c.linux.namespaces[6] = { type = "pid" } end },
      { "linux.namespaces[0].path: must be an absolute path",
        function(c) c.linux.namespaces[1].path = "proc/1/ns/pid" end },
      { "linux.namespaces: must be an array", function(c) c.linux.namespaces = "pid" end },
      { 'linux.namespaces: a user namespace needs a mount namespace (type "mount") too: nslua\'s set-up '
        .. "could not enter the caller's mounts from it",
        function(c)
          for i = #c.linux.namespaces, 1, -1 do
            if c.linux.namespaces[i].type == "mount" then table.remove(c.linux.namespaces, i) end
          end
        end, true },
      { "linux.uidMappings: is required with a new user namespace",
        function(c) c.linux.namespaces[6] = NS_USER end },
      { "linux.uidMappings[0].size: must be an integer in 1..4294967295",
        function(c) c.linux.uidMappings[1].size = 0 end, true },
      { "linux.gidMappings[0].hostID: is required",
        function(c) c.linux.gidMappings[1].hostID = nil end, true },
      { "linux.gidMappings: must not be empty with a new user namespace",
        function(c) c.linux.gidMappings = {} end, true },
      { 'linux.uidMappings: requires a new user namespace (linux.namespaces type "user" without path)',
        function(c) c.linux.uidMappings = { { containerID = 0, hostID = 1, size = 1 } } end },
      { "process.user.uid: 1000 is not mapped in linux.uidMappings",
        function(c) c.process.user.uid = 1000 end, true },
      { "process.user.additionalGids[0]: 5 is not mapped in linux.gidMappings",
        function(c) c.process.user.additionalGids = { 5 } end, true },
      { "mounts[3].destination: must not contain '..'",
        function(c) c.mounts[4].destination = "/dev/../etc" end },
      { "linux.devices[0].path: must be an absolute path under /dev",
        function(c) c.linux.devices = { { path = "fuse", type = "c", major = 10, minor = 229 } } end },
      { 'linux.devices[0].type: must be "c", "b", "u" or "p"',
        function(c) c.linux.devices = { { path = "/dev/x", type = "x", major = 1, minor = 1 } } end },
      { 'linux.devices[0].major: is required for type "c"',
        function(c) c.linux.devices = { { path = "/dev/x", type = "c", minor = 1 } } end },
      { "linux.devices[0].fileMode: must be an integer in 0..4095",
        function(c) c.linux.devices = { { path = "/dev/x", type = "c", major = 1, minor = 1, fileMode = 70000 } } end },
      { "linux.resources.devices[0].access: must be a string of r, w and m",
        function(c) c.linux.resources.devices[1].access = "rwx" end },
      { "linux.resources.memory.swap: must be at least memory.limit (1048576): it is memory plus swap",
        function(c) c.linux.resources.memory = { limit = 1048576, swap = 1000 } end },
      { "linux.resources.memory.swap: needs memory.limit (swap is memory plus swap)",
        function(c) c.linux.resources.memory = { swap = 1048576 } end },
      { "linux.resources.memory.limit: must be an integer in -1..9223372036854775807",
        function(c) c.linux.resources.memory = { limit = "1G" } end },
      { "linux.resources.cpu.cpus: must be a cpu list such as \"0-1,3\"",
        function(c) c.linux.resources.cpu = { cpus = "zero" } end },
      { "linux.resources.cpu.quota: must be at least 0.01 of the period",
        function(c) c.linux.resources.cpu = { quota = 100, period = 100000 } end },
      { "linux.resources.pids.limit: must be at most 4194304",
        function(c) c.linux.resources.pids = { limit = 99999999 } end },
      { "linux.resources.unified.memory.max: must be a string",
        function(c) c.linux.resources.unified = { ["memory.max"] = 5 } end },
      { 'linux.seccomp.defaultAction: unknown action "SCMP_ACT_MAYBE"',
        function(c) c.linux.seccomp = { defaultAction = "SCMP_ACT_MAYBE" } end },
      { "linux.seccomp.defaultAction: must be a string (SCMP_ACT_...)",
        function(c) c.linux.seccomp = { syscalls = {} } end },
      { 'linux.seccomp.syscalls[4].action: unknown action "SCMP_ACT_NOPE"',
        function(c)
          local s = {}
          for i = 1, 5 do s[i] = { names = { "read" }, action = "SCMP_ACT_ALLOW" } end
          s[5].action = "SCMP_ACT_NOPE"
          c.linux.seccomp = { defaultAction = "SCMP_ACT_ERRNO", syscalls = s }
        end },
      { "linux.seccomp.syscalls[0].action: SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath",
        function(c)
          c.linux.seccomp = { defaultAction = "SCMP_ACT_ALLOW",
                              syscalls = { { names = { "mkdir" }, action = "SCMP_ACT_NOTIFY" } } }
        end },
      { "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action: a listener is "
        .. "asked about named syscalls",
        function(c)
          c.linux.seccomp = { defaultAction = "SCMP_ACT_NOTIFY", listenerPath = "/run/agent.sock" }
        end },
      { "linux.seccomp.syscalls[0].names[0]: seccomp cannot notify: a notifying profile refuses the "
        .. "payload's own listeners",
        function(c)
          c.linux.seccomp = { defaultAction = "SCMP_ACT_ALLOW", listenerPath = "/run/agent.sock",
                              syscalls = { { names = { "seccomp" }, action = "SCMP_ACT_NOTIFY" } } }
        end },
      { "linux.seccomp.architectures[1]: unknown architecture 'SCMP_ARCH_VAX'",
        function(c) c.linux.seccomp = { defaultAction = "SCMP_ACT_ALLOW",
                                         architectures = { "SCMP_ARCH_X86", "SCMP_ARCH_VAX" } } end },
      { "linux.seccomp.flags[0]: unknown flag 'SECCOMP_FILTER_FLAG_NEW'",
        function(c) c.linux.seccomp = { defaultAction = "SCMP_ACT_ALLOW", flags = { "SECCOMP_FILTER_FLAG_NEW" } } end },
      { "linux.seccomp.syscalls[0].args[0].op: unknown operator 'SCMP_CMP_SOMETIMES'",
        function(c)
          c.linux.seccomp = { defaultAction = "SCMP_ACT_ERRNO", syscalls = { { names = { "read" },
            action = "SCMP_ACT_ALLOW", args = { { index = 0, value = 1, op = "SCMP_CMP_SOMETIMES" } } } } }
        end },
      { "linux.seccomp.syscalls[0].args[0].index: must be an integer in 0..5",
        function(c)
          c.linux.seccomp = { defaultAction = "SCMP_ACT_ERRNO", syscalls = { { names = { "read" },
            action = "SCMP_ACT_ALLOW", args = { { index = 6, value = 1, op = "SCMP_CMP_EQ" } } } } }
        end },
      { "linux.seccomp.syscalls[0].errnoRet: applies to SCMP_ACT_ERRNO and SCMP_ACT_TRACE only",
        function(c)
          c.linux.seccomp = { defaultAction = "SCMP_ACT_ERRNO",
                              syscalls = { { names = { "read" }, action = "SCMP_ACT_ALLOW", errnoRet = 1 } } }
        end },
      { "linux.seccomp.syscalls[0].names: must be a non-empty array of strings",
        function(c)
          c.linux.seccomp = { defaultAction = "SCMP_ACT_ERRNO", syscalls = { { action = "SCMP_ACT_ALLOW" } } }
        end },
      { 'linux.seccomp.syscalls[0].names[1]: unknown syscall "frobnicate" (a deny rule nslua cannot apply)',
        function(c)
          c.linux.seccomp = { defaultAction = "SCMP_ACT_ALLOW",
                              syscalls = { { names = { "mount", "frobnicate" }, action = "SCMP_ACT_ERRNO" } } }
        end },
      { 'linux.sysctl["net.ipv4.ip_forward"]: needs the container\'s own net namespace',
        function(c) table.remove(c.linux.namespaces, 2); c.linux.sysctl = { ["net.ipv4.ip_forward"] = "1" } end },
      { 'linux.sysctl["vm.swappiness"]: is not in a namespace of the container (nslua writes only namespaced sysctls)',
        function(c) c.linux.sysctl = { ["vm.swappiness"] = "1" } end },
      { 'linux.sysctl["kernel.shmmax"]: must be a string',
        function(c) c.linux.sysctl = { ["kernel.shmmax"] = 1 } end },
      { "linux.maskedPaths[0]: must be an absolute path", function(c) c.linux.maskedPaths[1] = "proc/kcore" end },
      { "linux.readonlyPaths[4]: must be a string", function(c) c.linux.readonlyPaths[5] = false end },
      { "linux.rootfsPropagation: must be one of private rprivate slave rslave shared rshared unbindable "
        .. "runbindable", function(c) c.linux.rootfsPropagation = "everywhere" end },
      { "linux.mountLabel: nslua does not apply SELinux mount labels (remove it, or use runc)",
        function(c) c.linux.mountLabel = "system_u:object_r:container_file_t:s0" end },
      { 'linux.personality.domain: must be "LINUX" or "LINUX32"',
        function(c) c.linux.personality = { domain = "BSD" } end },
      { 'linux.timeOffsets: needs a new time namespace (linux.namespaces type "time")',
        function(c) c.linux.timeOffsets = { monotonic = { secs = 1 } } end },
      { "linux.timeOffsets.monotonic.nanosecs: must be an integer in 0..999999999",
        function(c)
          c.linux.namespaces[6] = { type = "time" }
          c.linux.timeOffsets = { monotonic = { secs = 1, nanosecs = -1 } }
        end },
      { "linux.intelRdt: nslua does not support Intel RDT (remove it, or use runc)",
        function(c) c.linux.intelRdt = { closID = "x" } end },
      { "hooks.prestart[0].path: must be an absolute path",
        function(c) c.hooks = { prestart = { { path = "hook" } } } end },
      { "hooks.poststart[1].timeout: must be an integer in 1..9223372036854775807",
        function(c) c.hooks = { poststart = { { path = "/a" }, { path = "/b", timeout = 0 } } } end },
      { "hooks.createRuntime[0].args[1]: must be a string",
        function(c) c.hooks = { createRuntime = { { path = "/a", args = { "a", 1 } } } } end },
      { "hooks.createContainer[0].env: must be an array",
        function(c) c.hooks = { createContainer = { { path = "/a", env = "A=b" } } } end },
      { "hooks.preflight: unknown hook (valid: prestart createRuntime createContainer startContainer "
        .. "poststart poststop)", function(c) c.hooks = { preflight = {} } end },
      { "annotations: must be an object", function(c) c.annotations = { 1, 2 } end },
    }
    for _, case in ipairs(cases) do
      it(case[1], function()
        -- (as on a host that enforces both LSMs: labels are refused there)
        assert_error(with(case[2], case[3]), case[1], { lsm = { selinux = true, apparmor = true } })
      end)
    end

    it("runs a config without a mount namespace in ours: host_mnt, the host's proc (linux_ns_itype)", function()
      local spec = assert_ok(with(function(c)
        c.linux.namespaces = { { type = "ipc" } }
        c.hostname = nil
      end))
      assert.is_true(spec.host_mnt)
      assert.is_true(spec.namespaces.mnt)
      assert.is_false(spec.namespaces.pid)
      local seen = {}
      for _, m in ipairs(spec.mounts) do
        if m.type == "proc" or m.type == "sysfs" or m.type == "mqueue" then seen[m.type] = m.host_ns or false end
      end
      assert.same({ proc = true, sysfs = true, mqueue = false }, seen)
      spec.oci_resources, spec.hooks_oci, spec.cgroup_path = nil, nil, nil
      local out, errs = validate.check(spec)
      assert.is_table(out, table.concat(errs or {}, "\n"))
      -- a mount namespace listed: none of it
      spec = assert_ok(with(function() end))
      assert.is_nil(spec.host_mnt)
      for _, m in ipairs(spec.mounts) do assert.is_nil(m.host_ns) end
    end)

    it("ignores labels of an LSM the host does not enforce, with a warning (crun's way)", function()
      local function labelled(c)
        c.process.apparmorProfile = "docker-default"
        c.process.selinuxLabel = "system_u:system_r:container_t:s0"
        c.linux.mountLabel = "system_u:object_r:container_file_t:s0"
      end
      local spec, warns = convert(with(labelled), { lsm = { selinux = false, apparmor = false } })
      assert.is_table(spec, warns and table.concat(warns, "\n"))
      assert.same({ "process.apparmorProfile: ignored: AppArmor is not enabled on this host",
                    "process.selinuxLabel: ignored: SELinux is not enabled on this host",
                    "linux.mountLabel: ignored: SELinux is not enabled on this host" }, warns)
      -- one LSM enforced, the other not: only its labels are refused
      local _, errs = convert(with(labelled), { lsm = { selinux = true, apparmor = false } })
      assert.same({ "process.selinuxLabel: nslua does not apply SELinux labels (remove it, or use runc)",
                    "linux.mountLabel: nslua does not apply SELinux mount labels (remove it, or use runc)" },
        errs)
      _, errs = convert(with(labelled), { lsm = { selinux = false, apparmor = true } })
      assert.same({ "process.apparmorProfile: nslua does not apply AppArmor profiles (remove it, or use runc)" },
        errs)
      assert.same({}, select(2, convert(with(function() end))))
      -- the host's own answer: a table of two booleans
      local lsm = config.lsm()
      assert.is_boolean(lsm.selinux)
      assert.is_boolean(lsm.apparmor)
    end)

    it("process: is required when opts.need_process", function()
      assert_error(with(function(c) c.process = nil end), "process: is required", { need_process = true })
      assert_ok(with(function(c) c.process = nil end))
    end)

    it("reports every problem at once", function()
      local _, errs = convert(with(function(c)
        c.ociVersion = nil
        c.process.cwd = "rel"
        c.mounts[1].destination = "proc"
      end))
      assert.equal(3, #errs)
    end)
  end)

  describe("features", function()
    it("has runc's shape and lists only what nslua does", function()
      local f = config.features()
      assert.equal("1.0.0", f.ociVersionMin)
      assert.equal("1.2.0", f.ociVersionMax)
      assert.same(config.HOOKS, f.hooks)
      assert.is_true(has(f.mountOptions, "rbind"))
      assert.is_true(has(f.mountOptions, "rprivate"))
      assert.is_true(has(f.mountOptions, "idmap"))
      assert.same({ "cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts" }, f.linux.namespaces)
      assert.is_true(has(f.linux.capabilities, "CAP_SYS_ADMIN"))
      assert.is_true(has(f.linux.capabilities, "CAP_CHECKPOINT_RESTORE"))
      assert.is_true(f.linux.seccomp.enabled)
      assert.is_true(has(f.linux.seccomp.actions, "SCMP_ACT_NOTIFY"))
      assert.is_true(has(f.linux.seccomp.actions, "SCMP_ACT_KILL_PROCESS"))
      assert.is_true(has(f.linux.seccomp.operators, "SCMP_CMP_MASKED_EQ"))
      assert.is_true(has(f.linux.seccomp.archs, "SCMP_ARCH_X86_64"))
      assert.is_false(f.linux.apparmor.enabled)
      assert.is_false(f.linux.selinux.enabled)
      assert.is_string(f.annotations["io.github.seccomp.libseccomp.version"])
      assert.is_string(cjson.encode(f))
    end)

    it("every mount option it lists is one to_spec reads as a flag", function()
      for _, o in ipairs(config.features().mountOptions) do
        assert.same({}, config.parse_options({ o }).data, o)
      end
    end)

    it("lists what runc lists, less what nslua lacks", function()
      if not helper.exists(RUNC) then return pending("runc is not installed") end
      local ok, out = helper.sh(RUNC .. " features")
      assert.is_true(ok, out)
      local runc = cjson.decode(out)
      local mine = config.features()
      assert.same(runc.hooks, mine.hooks)
      assert.same(runc.linux.capabilities, mine.linux.capabilities)
      for _, k in ipairs { "operators", "archs" } do
        for _, v in ipairs(runc.linux.seccomp[k]) do
          assert.is_true(has(mine.linux.seccomp[k], v), v)
        end
      end
    end)
  end)

  describe("validate.check of default()'s spec", function()
    -- the front end's own fields go to the CLI, never to the executor
    local function for_executor(spec)
      spec.hooks_oci, spec.oci_resources, spec.cgroup_path = nil, nil, nil
      return spec
    end
    for _, rootless in ipairs { false, true } do
      it(("passes%s"):format(rootless and " (rootless)" or ""), function()
        local spec = for_executor(assert_ok(config.default(rootless, { uid = 1000, gid = 1000 })))
        local out, errs = validate.check(spec, { need_argv = true })
        assert.is_table(out, table.concat(errs or {}, "\n"))
        assert.equal(rootless and "explicit" or "host", out.user.map)
      end)
    end
  end)
end)
