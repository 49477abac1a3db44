-- spec/support/oci.lua - what the OCI client tests (spec/oci/*_spec.lua)
-- and the bench's OCI scenario share: the runtime under test, a busybox
-- test image, podman and containerd each with its own storage and config
-- under one temp dir, and the look for what they leave behind (mounts,
-- processes, cgroups) at or under that dir.
local M = {}

local function q(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
M.quote = q

-- (without LD_PRELOAD: under `make sanitize` the ASan runtime would be
-- preloaded into podman, containerd and the runtimes, none of them ours)
local function sh(cmd)
  local f = assert(io.popen("exec 2>&1; unset LD_PRELOAD; " .. cmd, "r"))
  local out = f:read("a")
  local ok, how, code = f:close()
  if how == "signal" then code = 128 + code end
  return ok == true, out, code
end
M.sh = sh

local function exists(path)
  local f = io.open(path, "r")
  if f then f:close() return true end
  return false
end

local function read(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function write(path, s)
  local f = assert(io.open(path, "w"))
  f:write(s)
  f:close()
end

function M.which(name)
  local ok, out = sh("command -v " .. q(name))
  return ok and out:match("^(/%S+)") or nil
end

M.IMAGE = "localhost/nslua-test:latest"

--- The runtime under test: NSLUA_OCI_RUNTIME, else the checkout's
-- build/bin/nslua-oci, else its scripts/nslua-oci ('top' is the checkout).  Returns path, or nil and
-- the reason it can't be used.
function M.runtime(top)
  local env = os.getenv("NSLUA_OCI_RUNTIME")
  -- the nslua program as `make install` installs it (csrc/launcher.c),
  -- else the script
  local prog = top .. "/build/bin/nslua-oci"
  local path = (env and env ~= "") and env or (exists(prog) and prog or (top .. "/scripts/nslua-oci"))
  if not path:find("^/") then
    path = M.which(path) or path
  end
  if not exists(path) then
    return nil, ("runtime %s does not exist (set NSLUA_OCI_RUNTIME, or run make)"):format(path)
  end
  return M.sanitized_runtime(top, path)
end

--- Under `make sanitize` the engines run without LD_PRELOAD (see sh), but
-- our runtime loads the instrumented core and needs the ASan runtime
-- first: a wrapper of the same name (the engines key their config on it)
-- under build/ that preloads it and execs the real one.
function M.sanitized_runtime(top, path)
  local preload = os.getenv("LD_PRELOAD")
  if not (preload and preload:match("asan"))
    or (path ~= top .. "/scripts/nslua-oci" and path ~= top .. "/build/bin/nslua-oci") then
    return path
  end
  local dir = top .. "/build/asan-oci"
  assert(sh("mkdir -p " .. q(dir)))
  local wrapper = dir .. "/nslua-oci"
  write(wrapper, ("#!/bin/sh\nexport LD_PRELOAD=%s ASAN_OPTIONS=%s UBSAN_OPTIONS=%s\nexec %s \"$@\"\n")
    :format(q(preload), q(os.getenv("ASAN_OPTIONS") or ""), q(os.getenv("UBSAN_OPTIONS") or ""), q(path)))
  assert(sh("chmod 0755 " .. q(wrapper)))
  return wrapper
end

--- The runtime a client spec drives, or nil and why the spec is pending:
-- the client tools missing (a list of names), no runtime, a runtime that
-- refuses this host itself (crun on a hybrid cgroup host), no root.
-- 'helper' is spec/helper.lua; 'need_root' the reason root is needed.
function M.for_spec(helper, tools, need_root)
  for _, t in ipairs(tools) do
    if not M.which(t) then return nil, ("%s is not installed (scripts/deps.sh --oci)"):format(t) end
  end
  local runtime, why = M.runtime(helper.root)
  if not runtime then return nil, why end
  local probe = helper.tmpdir("0755")
  local refused = helper.is_root() and M.host_refuses(helper.root, probe, runtime)
  helper.rmtree(probe)
  if refused then return nil, refused end
  if not helper.is_root() then return nil, need_root end
  return runtime
end

--- The runtime's name as podman sees it (the file name): the key of its
-- runtime_supports_json entry.
function M.runtime_name(path)
  return path:match("([^/]+)$")
end

--- A busybox root file system in 'dir' (scripts/mkrootfs.sh).
function M.rootfs(top, dir)
  local ok, out = sh(("sh %s/scripts/mkrootfs.sh %s"):format(q(top), q(dir)))
  assert(ok, out)
end

-- The hard limits of this process (/proc/self/limits): podman's defaults
-- for root (nofile 1048576, nproc 4194304) exceed them in a container
-- without CAP_SYS_RESOURCE over the host's limits, and the runtime's
-- setrlimit then fails; containers.conf asks for what the host allows.
local function hard_limit(name, cap)
  local limits = read("/proc/self/limits") or ""
  local hard = limits:match(name .. "%s+%S+%s+(%S+)")
  local n = tonumber(hard or "")
  if not n then return cap end
  return math.min(n, cap)
end

--- containers.conf and storage.conf under T for the runtime at 'runtime':
-- everything podman writes (storage, run root, locks, events, volumes,
-- network config, temp files) stays under T.  Returns the podman command
-- prefix (a shell string ending in the global flags).
function M.podman_setup(T, runtime)
  for _, d in ipairs { "root", "runroot", "tmp", "net", "volumes", "config" } do
    assert(sh("mkdir -p " .. q(T .. "/" .. d)))
  end
  local nofile = hard_limit("Max open files", 1048576)
  -- podman hands conmon, and so the runtime, an nproc hard limit of at
  -- most kernel.pid_max (measured: 32768 here while podman had 96362)
  local pid_max = tonumber((read("/proc/sys/kernel/pid_max") or ""):match("%d+") or "") or 4194304
  local nproc = math.min(hard_limit("Max processes", 4194304), pid_max)
  local function list(names)
    local out, seen = {}, {}
    for _, n in ipairs(names) do
      if not seen[n] then seen[n] = true out[#out + 1] = ("%q"):format(n) end
    end
    return "[" .. table.concat(out, ", ") .. "]"
  end
  local name = M.runtime_name(runtime)
  -- runc has no --cgroup-manager=disabled: only the others run cgroup-less
  local nocgroups = { "nslua-oci", "crun" }
  if name ~= "runc" then nocgroups[#nocgroups + 1] = name end
  write(T .. "/containers.conf", ([[
[containers]
default_ulimits = ["nofile=%d:%d", "nproc=%d:%d"]
netns = "none"
log_driver = "k8s-file"

[network]
network_config_dir = "%s/net"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "%s/events.log"
lock_type = "file"
tmp_dir = "%s/tmp"
volume_path = "%s/volumes"
runtime_supports_json = %s
runtime_supports_nocgroups = %s

[engine.runtimes]
%s = [%q]
]]):format(nofile, nofile, nproc, nproc, T, T, T, T, list { "nslua-oci", "crun", "runc", name }, list(nocgroups),
    name, runtime))
  write(T .. "/storage.conf", ([[
[storage]
driver = "vfs"
graphroot = "%s/root"
runroot = "%s/runroot"
]]):format(T, T))
  local env, args = M.podman_argv(T, runtime)
  local words = { "env" }
  for _, e in ipairs(env) do words[#words + 1] = q(e) end
  for _, a in ipairs(args) do words[#words + 1] = q(a) end
  return table.concat(words, " ")
end

--- The podman command of podman_setup(T, ...) for 'runtime' as an
-- environment (a list of "K=V": the config files, TMPDIR) and an argv
-- (podman and its global flags, up to --runtime PATH).
function M.podman_argv(T, runtime)
  local env = { "CONTAINERS_CONF=" .. T .. "/containers.conf", "CONTAINERS_STORAGE_CONF=" .. T .. "/storage.conf",
                "TMPDIR=" .. T .. "/tmp", "XDG_CONFIG_HOME=" .. T .. "/config" }
  local args = { M.which("podman") or "podman", "--root", T .. "/root", "--runroot", T .. "/runroot",
                 "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file",
                 "--tmpdir", T .. "/tmp", "--runtime", runtime }
  return env, args
end

--- Import T/rootfs (made here) as IMAGE with the podman prefix 'podman'.
function M.podman_image(top, T, podman)
  M.rootfs(top, T .. "/rootfs")
  local ok, out = sh(("tar -C %s -c . | %s import - %s"):format(q(T .. "/rootfs"), podman, M.IMAGE))
  assert(ok, out)
end

--- Mount points at or under T in this mount namespace.
function M.mounts_under(T)
  local found = {}
  for line in (read("/proc/self/mountinfo") or ""):gmatch("[^\n]+") do
    local mp = line:match("^%S+ %S+ %S+ %S+ (%S+)")
    mp = mp and mp:gsub("\\(%d%d%d)", function(o) return string.char(tonumber(o, 8)) end)
    if mp and (mp == T or mp:sub(1, #T + 1) == T .. "/") then found[#found + 1] = mp end
  end
  return found
end

--- Live processes whose command line names T (conmon, containerd, its
-- shims: each carries a path under T), as "pid: argv".
function M.procs_under(T)
  local out = {}
  local f = io.popen("ls /proc")
  for name in f:lines() do
    if name:match("^%d+$") and tonumber(name) ~= nil then
      local cmd = read("/proc/" .. name .. "/cmdline")
      local st = read("/proc/" .. name .. "/stat") or ""
      if cmd and cmd:find(T, 1, true) and not st:match("^%d+ %b() Z") then
        local argv = cmd:gsub("%z", " ")
        -- not our own observers (a shell running this very look)
        if not argv:find("^sh %-c ") and not argv:find("^/bin/sh %-c ") then
          out[#out + 1] = name .. ": " .. argv:sub(1, 200)
        end
      end
    end
  end
  f:close()
  table.sort(out)
  return out
end

--- The cgroup parent of a test (podman --cgroup-parent): "/<name>".  Its
-- directories in every hierarchy are the test's to remove (cgroup_remove).
function M.cgroup_parent(tag)
  return ("/nsluaspec-%s-%d-%d"):format(tag, os.time() % 100000, math.random(1 << 20))
end

--- Directories named 'parent' (absolute within a hierarchy) under every
-- mounted cgroup hierarchy, deepest first.
function M.cgroup_dirs(parent)
  local out = {}
  local f = io.popen("ls -d /sys/fs/cgroup/*/ /sys/fs/cgroup/ 2>/dev/null")
  local roots = {}
  for d in f:lines() do roots[#roots + 1] = d:gsub("/$", "") end
  f:close()
  for _, r in ipairs(roots) do
    local d = r .. parent
    if exists(d .. "/cgroup.procs") then
      local g = io.popen("find " .. q(d) .. " -depth -type d 2>/dev/null")
      for sub in g:lines() do out[#out + 1] = sub end
      g:close()
    end
  end
  return out
end

--- Pids in the cgroups under 'parent' (in any hierarchy).
function M.cgroup_procs(parent)
  local pids = {}
  for _, d in ipairs(M.cgroup_dirs(parent)) do
    for p in (read(d .. "/cgroup.procs") or ""):gmatch("%d+") do pids[#pids + 1] = p end
  end
  return pids
end

--- Remove the (empty) cgroups under 'parent'; returns what could not go.
function M.cgroup_remove(parent)
  local left = {}
  for _, d in ipairs(M.cgroup_dirs(parent)) do
    if not os.remove(d) and not sh("rmdir " .. q(d)) then left[#left + 1] = d end
  end
  return left
end

--- containerd with its root, state, socket and config under T (no CRI
-- plugin, the native snapshotter).  containerd 1.6 puts its shims' sockets
-- in /run/containerd/s whatever its config says: it runs in a mount
-- namespace of its own where /run is a private tmpfs, so the host's /run
-- stays untouched (a /run/containerd made even there would be the host's
-- directory).  The shims and their mounts live in that namespace too: look
-- at /proc/<pid>/mountinfo.  Returns pid, or nil and the log.
function M.containerd_start(T)
  assert(sh(("mkdir -p %s %s %s"):format(q(T .. "/root"), q(T .. "/state"), q(T .. "/fifo"))))
  write(T .. "/config.toml", ([[
version = 2
root = "%s/root"
state = "%s/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing"]

[grpc]
  address = "%s/c.sock"

[ttrpc]
  address = "%s/c.ttrpc.sock"

[debug]
  address = "%s/c.debug.sock"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "%s/opt"
]]):format(T, T, T, T, T, T))
  local inner = ("mount -t tmpfs -o mode=0755 nslua-spec /run && exec containerd --root %s "
    .. "--state %s --address %s --config %s"):format(q(T .. "/root"), q(T .. "/state"), q(T .. "/c.sock"),
    q(T .. "/config.toml"))
  local ok, out = sh(("unshare -m --propagation private sh -c %s >%s 2>&1 & echo $!")
    :format(q(inner), q(T .. "/containerd.log")))
  local pid = ok and tonumber(out:match("(%d+)"))
  if not pid then return nil, out end
  for _ = 1, 200 do
    if sh(("ctr -a %s version"):format(q(T .. "/c.sock"))) then return pid end
    os.execute("sleep 0.05")
  end
  M.containerd_stop(pid)
  return nil, read(T .. "/containerd.log") or "containerd did not answer"
end

--- Mount points at or under T in the mount namespace of process 'pid'.
function M.mounts_of(pid, T)
  local found = {}
  for line in (read("/proc/" .. pid .. "/mountinfo") or ""):gmatch("[^\n]+") do
    local mp = line:match("^%S+ %S+ %S+ %S+ (%S+)")
    if mp and (mp == T or mp:sub(1, #T + 1) == T .. "/") then found[#found + 1] = mp end
  end
  return found
end

--- Stop containerd 'pid' (SIGTERM, then SIGKILL after 10 s); true once
-- it is gone (its parent, the shell that started it, is gone: init reaps).
function M.containerd_stop(pid)
  if not pid then return true end
  local function gone()
    local st = read("/proc/" .. pid .. "/stat")
    return not st or st:match("^%d+ %b() Z") ~= nil
  end
  for _, sig in ipairs { "TERM", "KILL" } do
    os.execute(("kill -%s %d 2>/dev/null"):format(sig, pid))
    for _ = 1, 200 do
      if gone() then return true end
      os.execute("sleep 0.05")
    end
  end
  return gone()
end

--- An OCI image layout archive of T/rootfs (made here when missing) at
-- 'out', one uncompressed layer, named IMAGE: what `ctr images import`
-- takes, built without podman or a registry.
function M.oci_archive(top, T, out)
  if not exists(T .. "/rootfs/bin/busybox") then M.rootfs(top, T .. "/rootfs") end
  local lay = T .. "/layout"
  local blobs = lay .. "/blobs/sha256"
  assert(sh("mkdir -p " .. q(blobs)))
  local function blob(path)
    local _, sum = sh("sha256sum " .. q(path))
    local digest = assert(sum:match("^(%x+)"), sum)
    local size = #read(path)
    assert(os.rename(path, blobs .. "/" .. digest))
    return digest, size
  end
  local ok, err = sh(("tar --numeric-owner --sort=name --mtime=@0 -C %s -cf %s ."):format(q(T .. "/rootfs"),
    q(T .. "/layer.tar")))
  assert(ok, err)
  local layer, layer_size = blob(T .. "/layer.tar")
  write(T .. "/config.json", ('{"architecture":"amd64","os":"linux","config":{"Env":'
    .. '["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["/bin/sh"]},'
    .. '"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}'):format(layer))
  local config, config_size = blob(T .. "/config.json")
  write(T .. "/manifest.json", ('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",'
    .. '"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},'
    .. '"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%d}]}')
    :format(config, config_size, layer, layer_size))
  local manifest, manifest_size = blob(T .. "/manifest.json")
  write(lay .. "/index.json", ('{"schemaVersion":2,"manifests":[{"mediaType":'
    .. '"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,'
    .. '"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}'):format(manifest, manifest_size, M.IMAGE))
  write(lay .. "/oci-layout", '{"imageLayoutVersion":"1.0.0"}')
  ok, err = sh(("tar -C %s -cf %s . && rm -rf %s"):format(q(lay), q(out), q(lay)))
  assert(ok, err)
end

-- A JSON string (what argv holds: printable text).
local function json_string(v)
  return '"' .. v:gsub('[%c"\\]', function(c)
    return ({ ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\t"] = "\\t" })[c]
      or ("\\u%04x"):format(c:byte())
  end) .. '"'
end

-- `runc spec`'s config.json (runc 1.1.5) with terminal false: the bundle
-- every runtime runs alike.
local CONFIG =
  '{"ociVersion":"1.0.2-dev","process":{"terminal":false,"user":{"uid":0,"gid":0},"args":%s,"env":['
  .. '"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","TERM=xterm"],"cwd":"/","cap'
  .. 'abilities":{"bounding":["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"],"effective":["CAP_A'
  .. 'UDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"],"permitted":["CAP_AUDIT_WRITE","CAP_KILL","CAP_NE'
  .. 'T_BIND_SERVICE"],"ambient":["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"]},"rlimits":[{"t'
  .. 'ype":"RLIMIT_NOFILE","hard":1024,"soft":1024}],"noNewPrivileges":true},"root":{"path":"rootfs","'
  .. 'readonly":true},"hostname":"nslua-test","mounts":[{"destination":"/proc","type":"proc","source":'
  .. '"proc"},{"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","strictatime",'
  .. '"mode=755","size=65536k"]},{"destination":"/dev/pts","type":"devpts","source":"devpts","options"'
  .. ':["nosuid","noexec","newinstance","ptmxmode=0666","mode=0620","gid=5"]},{"destination":"/dev/shm'
  .. '","type":"tmpfs","source":"shm","options":["nosuid","noexec","nodev","mode=1777","size=65536k"]}'
  .. ',{"destination":"/dev/mqueue","type":"mqueue","source":"mqueue","options":["nosuid","noexec","no'
  .. 'dev"]},{"destination":"/sys","type":"sysfs","source":"sysfs","options":["nosuid","noexec","nodev'
  .. '","ro"]},{"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup","options":["nosuid","'
  .. 'noexec","nodev","relatime","ro"]}],"linux":{"resources":{"devices":[{"allow":false,"access":"rwm'
  .. '"}]},"namespaces":[{"type":"pid"},{"type":"network"},{"type":"ipc"},{"type":"uts"},{"type":"moun'
  .. 't"}],"maskedPaths":["/proc/acpi","/proc/asound","/proc/kcore","/proc/keys","/proc/latency_stats"'
  .. ',"/proc/timer_list","/proc/timer_stats","/proc/sched_debug","/sys/firmware","/proc/scsi"],"reado'
  .. 'nlyPaths":["/proc/bus","/proc/fs","/proc/irq","/proc/sys","/proc/sysrq-trigger"]}}'

--- A bundle in 'dir': a busybox rootfs (scripts/mkrootfs.sh) and the
-- config.json above with process.args = argv.
function M.bundle(top, dir, argv)
  M.rootfs(top, dir .. "/rootfs")
  local args = {}
  for i, a in ipairs(argv) do args[i] = json_string(a) end
  write(dir .. "/config.json", CONFIG:format("[" .. table.concat(args, ",") .. "]"))
end

--- Whether 'runtime' can run a container on this host: nil, or why not
-- when it refuses the host itself.  crun 1.8.1 refuses every container on
-- a hybrid host whose cgroup2 holds a controller ("cgroups in hybrid mode
-- not supported, drop all controllers from cgroupv2"; hugetlb here), even
-- with --cgroup-manager=disabled.  A bundle in T/probe, removed after.
function M.host_refuses(top, T, runtime)
  local dir = T .. "/probe"
  M.bundle(top, dir, { "/bin/true" })
  local id = ("nsluaprobe%d"):format(math.random(1 << 30))
  local ok, out = sh(("cd %s && %s --root %s run --bundle %s %s </dev/null"):format(q(dir), q(runtime),
    q(T .. "/probe-state"), q(dir), id))
  sh(("%s --root %s delete -f %s"):format(q(runtime), q(T .. "/probe-state"), id))
  sh("rm -rf " .. q(dir) .. " " .. q(T .. "/probe-state"))
  if not ok and out:find("cgroups in hybrid mode not supported", 1, true) then
    return ("%s refuses this host: %s (docs/oci.md \"crun on a hybrid host\")"):format(runtime,
      out:match("[^\n]*hybrid[^\n]*"))
  end
  return nil
end

return M
