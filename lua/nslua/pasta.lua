--- nslua.pasta: rootless networking through passt's pasta (net = "pasta").
-- The parent starts /usr/bin/pasta once the child's network namespace
-- exists, with a fixed argv (no shell) against the child's network
-- namespace, joined to its user namespace (both opened by nslua from
-- /proc/<pid>/ns and inherited as /proc/self/fd/N).  pasta makes a tap
-- link eth0 in the sandbox with the address and default route of the host's
-- template interface, and carries the sandbox's TCP, UDP and ICMP echo
-- through ordinary sockets of the caller's.  Nothing else is forwarded:
-- -t/-u name only the published ports (host to sandbox), -T/-U none (the
-- sandbox reaches no port bound on the host's loopback through its own
-- loopback) and --no-map-gw (the gateway address is not the host).
-- DNS: queries to DNS below go to the first nameserver of the host's
-- resolv.conf (--dns-forward); the sandbox's /etc/resolv.conf says so
-- (validate adds the file mount).
--
-- pasta ends with the sandbox: the cleanup stack stops it; a watchdog
-- (a fork of nslua's) kills it when nslua dies, SIGKILL included (it reads
-- the end of file of a pipe only nslua holds the write end of); and its pid
-- and start time are in the state record, so gc and the sweep kill it when
-- the owner is gone.
local core = require "nslua.core"
local state = require "nslua.state"

local proc, mount, errno = core.proc, core.mount, core.errno

local M = {}

--- The pasta binary (Debian package passt).
M.BIN = "/usr/bin/pasta"
M.PACKAGE = "passt"
--- The address the sandbox sends DNS queries to (pasta forwards them).
M.DNS = "169.254.1.1"
--- The sandbox's link.
M.IFNAME = "eth0"
--- Seconds pasta gets to set the sandbox's link up and write its pid.
M.READY_TIMEOUT = 10

--- The sandbox's /etc/resolv.conf.
function M.resolv_conf()
  return ("nameserver %s\n"):format(M.DNS)
end

--- nil when pasta is installed, else why not (names the package).
function M.missing()
  local st = mount.stat(M.BIN)
  if st and st.type == "file" then return nil end
  return ("net = \"pasta\" needs %s (package %s; apt install %s)"):format(M.BIN, M.PACKAGE, M.PACKAGE)
end

--- true when the caller can open /dev/net/tun for reading and writing
-- (pasta opens it inside the sandbox's namespaces, with the caller's
-- permissions); else nil, message, errno.
function M.tun_access()
  local fd, err, code = proc.open("/dev/net/tun", { rdwr = true })
  if not fd then return nil, "/dev/net/tun: " .. err, code end
  fd:close()
  return true
end

--- pasta's port option values for the plan's published ports:
-- { tcp = {"8080:80", "192.0.2.1/8081:81"}, udp = {...} }.
function M.port_specs(publish)
  local out = { tcp = {}, udp = {} }
  for _, p in ipairs(publish or {}) do
    local spec = ("%d:%d"):format(p.host_port, p.guest_port)
    if p.host_ip then spec = p.host_ip .. "/" .. spec end
    local list = out[p.proto]
    list[#list + 1] = spec
  end
  return out
end

--- The fixed argv: pasta in the foreground against the namespaces open on
-- its fds net_fd and user_fd (inherited: the child is not dumpable, so
-- only nslua may open its /proc/<pid>/ns files), writing its pid on fd
-- pid_fd once it is ready.
-- @tparam table plan net.plan's (mode "pasta")
-- @int net_fd the number of the fd of the child's network namespace
-- @int user_fd the number of the fd of the child's user namespace
-- @int pid_fd the number of the fd pasta writes its pid to
-- @bool root the caller is root: pasta keeps uid 0 (--runas 0:0) to open
--   the namespaces, which it would drop to nobody first
function M.argv(plan, net_fd, user_fd, pid_fd, root)
  local argv = { M.BIN, "--foreground", "--quiet", "--config-net",
    "--netns", ("/proc/self/fd/%d"):format(net_fd), "--userns", ("/proc/self/fd/%d"):format(user_fd),
    "--ns-ifname", M.IFNAME, "--no-map-gw", "--dns-forward", M.DNS,
    "-T", "none", "-U", "none", "--pid", ("/proc/self/fd/%d"):format(pid_fd) }
  local ports = M.port_specs(plan.publish)
  for _, proto in ipairs { "tcp", "udp" } do
    local opt = proto == "tcp" and "-t" or "-u"
    if #ports[proto] == 0 then
      argv[#argv + 1], argv[#argv + 2] = opt, "none"
    else
      for _, s in ipairs(ports[proto]) do argv[#argv + 1], argv[#argv + 2] = opt, s end
    end
  end
  if root then argv[#argv + 1], argv[#argv + 2] = "--runas", "0:0" end
  return argv
end

-- What pasta wrote on its stderr (the unnamed file 'fd'), without syslog's
-- complaints.
local function read_log(fd)
  local f = fd and not fd:closed() and io.open(("/proc/self/fd/%d"):format(fd:fileno()))
  if not f then return "" end
  local text = f:read(4096) or ""
  f:close()
  local lines = {}
  for l in text:gmatch("[^\n]+") do
    if not l:match("^Failed to send %d+ bytes to syslog") then lines[#lines + 1] = l end
  end
  return table.concat(lines, "; ")
end

--- Stop a pasta started by M.start (idempotent): it, then its watchdog.
function M.stop(h)
  if h.pid and h.start and state.alive(h.pid, h.start) then proc.kill(h.pid, 9) end
  if h.life then
    h.life:close()
    h.life = nil
  end
  if h.watchdog then
    proc.waitpid(h.watchdog)
    h.watchdog = nil
  end
  if h.log then
    if not h.log:closed() then h.log:close() end
    h.log = nil
  end
end

-- Close every fd but those of 'keep' (numbers).
local function close_all_but(keep)
  table.sort(keep)
  local lo = 0
  for _, fd in ipairs(keep) do
    if fd > lo then proc.close_range(lo, fd - 1) end
    lo = fd + 1
  end
  proc.close_range(lo)
end

-- The watchdog (a fork of nslua): spawns pasta, then waits for the end of
-- file of 'life', whose write end only nslua holds: nslua stopping it or
-- dying (SIGKILL included) ends pasta.  pasta's own PR_SET_PDEATHSIG would
-- not do: joining the sandbox's user namespace clears it.  The watchdog
-- keeps only the fds it needs (never the record's lock), in a session of
-- its own: a terminal's ^C reaches nslua (which forwards it to the
-- payload), never pasta.
local function watchdog(argv, life, keep_fds, stdio)
  proc.setsid()
  local keep = { life:fileno() }
  for _, fd in ipairs(keep_fds) do keep[#keep + 1] = fd end
  for _, fd in pairs(stdio) do keep[#keep + 1] = fd:fileno() end
  close_all_but(keep)
  local pid = proc.spawn(argv, {}, { keep_fds = keep_fds, host_caps = true }, stdio)
  if not pid then proc._exit(1) end
  for _, fd in ipairs(keep_fds) do proc.close_range(fd, fd) end
  for _, fd in pairs(stdio) do proc.close_range(fd:fileno(), fd:fileno()) end
  local set = { { fd = life, events = { ["in"] = true } } }
  while true do
    local n = proc.poll(set, 500)
    if n and n > 0 then break end
    if proc.waitpid(pid, { nohang = true }) == pid then proc._exit(0) end
  end
  proc.kill(pid, 9)
  proc.waitpid(pid)
  proc._exit(0)
end

--- Start pasta for the child 'pid' and wait until it is ready.
-- @tparam table plan net.plan's (mode "pasta")
-- @int pid the child, whose namespaces exist
-- @tparam table opts { dir = the state directory (pasta's log), root = bool }
-- @treturn[1] table handle { pid, start, log, watchdog }: M.stop(handle) ends it
-- @return[2] nil, message, errno
function M.start(plan, pid, opts)
  local why = M.missing()
  if why then return nil, why, errno.ENOENT end
  local netns <close>, nerr, ncode = core.ns.open(pid, "net")
  if not netns then return nil, "pasta: network namespace: " .. nerr, ncode end
  local userns <close>, uerr, ucode = core.ns.open(pid, "user")
  if not userns then return nil, "pasta: user namespace: " .. uerr, ucode end
  local h = {}
  local fds = {}   -- closed on every path out
  local function fail(msg, code)
    for _, fd in pairs(fds) do if not fd:closed() then fd:close() end end
    M.stop(h)
    return nil, "pasta: " .. tostring(msg), code
  end
  local err, code
  fds.r, fds.w = proc.pipe()
  if not fds.r then return fail(fds.w, errno.EMFILE) end
  fds.life_r, h.life = proc.pipe()
  if not fds.life_r then return fail(h.life, errno.EMFILE) end
  fds.devnull, err, code = proc.open("/dev/null", { rdwr = true })
  if not fds.devnull then return fail(err, code) end
  -- pasta's messages: an unnamed file (nothing to remove, whatever ends
  -- us); on a file system without O_TMPFILE they are lost
  fds.log = proc.open(opts.dir or "/tmp", { rdwr = true, tmpfile = true }, 384)
  h.log = fds.log
  local argv = M.argv(plan, netns:fileno(), userns:fileno(), fds.w:fileno(), opts.root)
  local keep = { fds.w:fileno(), netns:fileno(), userns:fileno() }
  io.stdout:flush()
  io.stderr:flush()
  local wpid
  wpid, err, code = core.ns.clone()
  if not wpid then return fail(err, code) end
  if wpid == 0 then
    pcall(watchdog, argv, fds.life_r, keep,
      { [0] = fds.devnull, [1] = fds.devnull, [2] = fds.log or fds.devnull })
    proc._exit(1)
  end
  h.watchdog = wpid
  local r = fds.r
  for k, fd in pairs(fds) do if k ~= "r" and k ~= "log" then fd:close() end end
  -- ready: pasta's pid on the pipe; dead: end of file
  local line = ""
  local deadline = proc.now() + M.READY_TIMEOUT
  while not line:find("\n", 1, true) do
    local left = math.max(0, math.floor((deadline - proc.now()) * 1000))
    local n = proc.poll({ { fd = r, events = { ["in"] = true } } }, left)
    if not n or n == 0 then break end
    local chunk = proc.read(r, 64)
    if not chunk or chunk == "" then break end
    line = line .. chunk
  end
  r:close()
  local ppid = tonumber(line:match("^(%d+)\n"))
  h.pid, h.start = ppid, ppid and state.starttime(ppid)
  if not h.start then
    local text = read_log(h.log)
    if text:find("tun", 1, true) and not M.tun_access() then
      text = text .. " (the caller cannot open /dev/net/tun: see nslua doctor)"
    end
    return fail(("%s%s"):format(line == "" and "exited or not ready" or "bad pid file",
      text ~= "" and (": " .. text) or ""), errno.EIO)
  end
  if h.log then h.log:close() end
  h.log = nil
  return h
end

--- Kill a recorded pasta (gc, the sweep): only the process with that pid
-- and start time, and only when it runs pasta.
function M.kill_recorded(pid, start)
  pid, start = tonumber(pid), tonumber(start)
  if not pid or not start or not state.alive(pid, start) then return false end
  local f = io.open(("/proc/%d/comm"):format(pid))
  local comm = f and f:read("l")
  if f then f:close() end
  if comm ~= "pasta" and comm ~= "passt" and comm ~= "passt.avx2" then return false end
  proc.kill(pid, 9)
  return true
end

--- explain's lines for a pasta plan.
function M.explain(plan, add)
  add("net: own network namespace; pasta (%s, package %s) started by nslua against it", M.BIN, M.PACKAGE)
  add("guest: %s (tap) with the address and default route of the host's template interface", M.IFNAME)
  add("guest: /etc/resolv.conf nameserver %s (pasta forwards to the host's first nameserver)", M.DNS)
  local ports = M.port_specs(plan.publish)
  for _, proto in ipairs { "tcp", "udp" } do
    for _, s in ipairs(ports[proto]) do add("host: publish %s %s (host to sandbox)", proto, s) end
  end
end

return M
