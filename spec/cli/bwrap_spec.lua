-- `nslua bwrap`, differential: each case runs the same command line under
-- Debian's /usr/bin/bwrap and under `nslua bwrap` (as root and as the
-- rootless test user) and compares what a probe observes: exit code, ids,
-- cwd, hostname, which namespaces are new, the visible mounts (point, type,
-- ro/rw), the environment, JSON from --info-fd/--json-status-fd, file modes
-- and contents.  Options newer than the installed bubblewrap are checked
-- against bubblewrap's documented behaviour instead.  The harness is
-- spec/support/bwdiff.lua; every case is our own.
local helper = require "helper"
local D = require "support.bwdiff"
local q = helper.quote

-- $BW OPTIONS /bin/sh -c PROBE
local function bw(opts, probe)
  return "$BW " .. opts .. " /bin/sh -c " .. q(probe or D.PROBE)
end

-- classic BPF (struct sock_filter, little endian) for --seccomp FD
local function bpf(prog)
  local t = {}
  for _, i in ipairs(prog) do t[#t + 1] = string.pack("<I2BBI4", i[1], i[2], i[3], i[4]) end
  return table.concat(t)
end
local ALLOW = { 0x06, 0, 0, 0x7fff0000 }
local function deny_nr(nr) -- EPERM for syscall nr (x86_64 numbering), allow the rest
  return bpf({ { 0x20, 0, 0, 0 }, { 0x15, 0, 1, nr }, { 0x06, 0, 0, 0x00050001 }, ALLOW })
end
local ALLOW_ALL = bpf({ ALLOW })
local X86_64 = (function()
  local f = io.popen("uname -m")
  local m = f:read("l")
  f:close()
  return m == "x86_64"
end)()

-- wait (at most 5 s) until a shell condition holds
local function waitfor(cond)
  return ("i=0; until %s; do i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.05; done"):format(cond)
end

-- (no /dev/null in probes: under a --ro-bind / / it is on a nodev mount)
local SHADOW = "x=$(cat /etc/shadow 2>&1); echo cat=$?; wc -c </etc/shadow 2>&1; echo wc=$?"
local FSPROBE = "echo @@mounts; cat /proc/self/mountinfo; echo @@end"

--------------------------------------------------------------------------
-- One case (at least) per option.  Fields: name, sh (script; $BW the tool,
-- {D} the case's dir), setup (shell run in {D} before each run), fds
-- ({ [fd] = content } given to the script), rc (bwrap's expected exit code,
-- checking the case itself; default 0), modes (default both), stderr
-- (function: the part of stderr to compare), min (bubblewrap minor version
-- needed to compare; below it, doc = function(r) checks nslua alone).
--------------------------------------------------------------------------
local OPTIONS = {
  { name = "--help", sh = "$BW --help | grep -oE '^ +--[a-z0-9-]+' | tr -d ' ' | sort -u; echo @@helprc; $BW " ..
      "--help >/dev/null; echo $?",
    compare = function(b, n)
      -- nslua lists every option bubblewrap lists (it may list newer ones)
      assert.equal(b.obs.helprc, n.obs.helprc)
      local has = {}
      for o in n.obs.out:gmatch("%S+") do has[o] = true end
      local missing = {}
      for o in b.obs.out:gmatch("%S+") do
        if not has[o] then missing[#missing + 1] = o end
      end
      assert.same({}, missing, "options bubblewrap's --help lists and nslua's does not")
    end },
  { name = "--version", sh = "$BW --version | wc -l; $BW --version | grep -cE '^[a-z]+ [0-9]+\\.[0-9]+'" },
  { name = "--args", fds = { [3] = "--ro-bind\0/\0/\0--setenv\0FROM_ARGS\0yes\0--chdir\0/usr\0" },
    sh = bw("--args 3", "echo $FROM_ARGS; " .. D.PROBE) },
  { name = "--args (two fds, in order)", fds = { [3] = "--ro-bind\0/\0/\0--tmpfs\0/mnt\0",
      [4] = "--dir\0/mnt/a/b\0--symlink\0a/b\0/mnt/l\0" },
    sh = bw("--args 3 --args 4", "ls -l /mnt | cut -c1,40-; " .. FSPROBE) },
  { name = "--argv0", min = 9,
    sh = bw("--ro-bind / /", "echo $0") .. "; " .. bw("--ro-bind / / --argv0 right", "echo $0"),
    doc = function(r) assert.equal(0, r.rc, r.err); assert.equal("/bin/sh\nright\n", r.out) end },
  { name = "--unshare-user", sh = bw("--ro-bind / / --unshare-user") },
  { name = "--unshare-user-try", sh = bw("--ro-bind / / --unshare-user-try") },
  { name = "--unshare-ipc", sh = bw("--ro-bind / / --unshare-ipc", "ipcs -q | wc -l; " .. D.PROBE) },
  { name = "--unshare-pid", sh = bw("--ro-bind / / --unshare-pid --proc /proc",
      "echo pid=$$; cat /proc/1/status | grep -E '^(PPid|Uid):'; " .. D.PROBE) },
  { name = "--unshare-net", sh = bw("--ro-bind / / --unshare-net --proc /proc",
      "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; cut -c33- /proc/net/if_inet6; " .. D.PROBE) },
  { name = "--unshare-uts", sh = bw("--ro-bind / / --unshare-uts") },
  { name = "--unshare-cgroup", sh = bw("--ro-bind / / --unshare-cgroup", "cat /proc/self/cgroup | head -3; " ..
      D.PROBE) },
  { name = "--unshare-cgroup-try", sh = bw("--ro-bind / / --unshare-cgroup-try") },
  { name = "--unshare-all", sh = bw("--ro-bind / / --unshare-all --proc /proc") },
  { name = "--share-net", sh = bw("--ro-bind / / --unshare-all --share-net --proc /proc") },
  { name = "--userns", sh = table.concat({
      "unshare -U -r sleep 30 & p=$!",
      waitfor('[ "$(readlink /proc/$p/ns/user)" != "$(readlink /proc/self/ns/user)" ]'),
      "$BW --userns 5 --bind / / /bin/sh -c 'readlink /proc/self/ns/user > {D}/ns; id -u; id -g' 5</proc/$p/ns/user",
      "echo rc=$?",
      '[ "$(cat {D}/ns)" = "$(readlink /proc/$p/ns/user)" ] && echo joined || echo other',
      "kill $p" }, "\n") },
  { name = "--userns2", sh = table.concat({
      "unshare -U -r /bin/sh -c 'unshare -U -r sleep 30 & echo $! > {D}/b; exec sleep 30' & a=$!",
      waitfor('[ -s {D}/b ] && [ "$(readlink /proc/$(cat {D}/b)/ns/user)" != "$(readlink /proc/$a/ns/user)" ]'),
      "b=$(cat {D}/b)",
      "$BW --userns 5 --userns2 6 --bind / / /bin/sh -c 'readlink /proc/self/ns/user > {D}/ns' " ..
        "5</proc/$a/ns/user 6</proc/$b/ns/user",
      "echo rc=$?",
      '[ "$(cat {D}/ns)" = "$(readlink /proc/$b/ns/user)" ] && echo in-b || echo other',
      "kill $b $a" }, "\n") },
  { name = "--userns2 (not a descendant)", sh = table.concat({
      "unshare -U -r sleep 30 & p=$!",
      waitfor('[ "$(readlink /proc/$p/ns/user)" != "$(readlink /proc/self/ns/user)" ]'),
      "$BW --unshare-user --userns2 5 --bind / / true 5</proc/$p/ns/user; echo rc=$?",
      "kill $p" }, "\n") },
  { name = "--disable-userns", sh = bw("--unshare-user --disable-userns --ro-bind / /",
      "cat /proc/sys/user/max_user_namespaces; unshare -U true 2>&1; echo unshare=$?") },
  { name = "--disable-userns without --unshare-user", rc = 1, sh = bw("--disable-userns --ro-bind / /", "true") },
  { name = "--assert-userns-disabled (userns allowed)", rc = 1, sh = bw("--assert-userns-disabled --ro-bind / " ..
      "/", "true") },
  { name = "--assert-userns-disabled (nested, disabled)",
    sh = "$BW --unshare-user --disable-userns --ro-bind / / $BW --assert-userns-disabled --ro-bind / / true; " ..
        "echo rc=$?" },
  { name = "--pidns", sh = table.concat({
      'if [ "$(id -u)" = 0 ]; then set --; else set -- -U -r; fi',
      'unshare "$@" -p -f --kill-child sleep 30 & u=$!',
      waitfor('[ -n "$(cat /proc/$u/task/$u/children)" ]'),
      "c=$(cat /proc/$u/task/$u/children | tr -d ' ')",
      waitfor('[ "$(readlink /proc/$c/ns/pid)" != "$(readlink /proc/self/ns/pid)" ]'),
      'if [ "$(id -u)" = 0 ]; then set -- --pidns 6; else set -- --userns 5 --pidns 6; fi',
      "$BW \"$@\" --bind / / /bin/sh -c 'readlink /proc/self/ns/pid > {D}/ns; echo $$' 5</proc/$c/ns/user " ..
        "6</proc/$c/ns/pid",
      "echo rc=$?",
      '[ "$(cat {D}/ns)" = "$(readlink /proc/$c/ns/pid)" ] && echo joined || echo other',
      "kill -9 $u; wait $u 2>/dev/null; true" }, "\n") },
  { name = "--uid --gid", sh = bw("--ro-bind / / --unshare-user --uid 1234 --gid 5678") },
  { name = "--uid without a user namespace", rc = 1, modes = { "root" }, sh = bw("--ro-bind / / --uid 1234", "id -u") },
  { name = "--hostname", sh = bw("--ro-bind / / --unshare-uts --hostname box") },
  { name = "--hostname without --unshare-uts", rc = 1, sh = bw("--ro-bind / / --hostname box", "true") },
  { name = "--chdir", sh = bw("--ro-bind / / --chdir /usr/share") },
  { name = "--chdir twice (warning)", sh = bw("--ro-bind / / --chdir / --chdir /usr", "pwd"),
    stderr = function(e) return e end },
  { name = "--chdir (missing)", rc = 1, sh = bw("--ro-bind / / --chdir /nonexistent-nslua", "pwd") },
  { name = "cwd default: the caller's, else $HOME, else /", home = "/usr",
    sh = bw("--ro-bind / / --tmpfs {D}", "pwd; echo $PWD") .. "; " .. bw("--ro-bind / /", "pwd; echo $PWD") ..
      "; " .. bw("--ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib --symlink usr/lib64 " ..
        "/lib64", "pwd") },
  { name = "--clearenv", env = "FOO=bar", sh = bw("--ro-bind / / --clearenv") },
  { name = "--setenv", env = "FOO=wrong", sh = bw("--ro-bind / / --setenv FOO bar --setenv NEW 'a b'") },
  { name = "--unsetenv", env = "FOO=wrong", sh = bw("--ro-bind / / --unsetenv FOO --unsetenv NOTSET") },
  { name = "--lock-file", sh = table.concat({
      "touch {D}/lock",
      "$BW --bind / / --lock-file {D}/lock /bin/sh -c 'touch {D}/started; sleep 1' & p=$!",
      waitfor("[ -e {D}/started ]"),
      "/usr/bin/python3 -c 'import fcntl,struct,sys; f=open(sys.argv[1],\"r+\"); " ..
        "r=fcntl.fcntl(f, fcntl.F_GETLK, struct.pack(\"hhqqhh\", fcntl.F_WRLCK,0,0,0,0,0)); " ..
        "print(\"lock\", {0:\"read\",1:\"write\",2:\"none\"}[struct.unpack(\"hhqqhh\", r)[0]])' {D}/lock",
      "wait $p; echo rc=$?" }, "\n") },
  { name = "--sync-fd", sh = "exec 5>{D}/sync; " .. bw("--ro-bind / / --sync-fd 5",
      "[ -e /proc/self/fd/5 ] && echo fd5-open || echo fd5-closed") .. "; echo rc=$?" },
  { name = "--block-fd", sh = table.concat({
      "mkfifo {D}/fifo; exec 5<>{D}/fifo",
      "( sleep 0.5; echo late > {D}/marker; printf x >&5 ) &",
      "$BW --block-fd 5 --ro-bind / / cat {D}/marker; echo rc=$?", "wait" }, "\n") },
  { name = "--userns-block-fd", sh = table.concat({
      "mkfifo {D}/fifo; exec 5<>{D}/fifo",
      "$BW --unshare-user --userns-block-fd 5 --info-fd 6 --ro-bind / / /bin/sh -c 'cat /proc/self/uid_map; id " ..
        "-u' 6>{D}/info & p=$!",
      waitfor("grep -q child-pid {D}/info"),
      "c=$(grep child-pid {D}/info | tr -dc 0-9)",
      'echo "0 $(id -u) 1" > /proc/$c/uid_map; echo deny > /proc/$c/setgroups; echo "0 $(id -g) 1" > /proc/$c/gid_map',
      "printf x >&5",
      "wait $p; echo rc=$?" }, "\n") },
  { name = "--info-fd before --block-fd is released", sh = table.concat({
      "mkfifo {D}/fifo; exec 5<>{D}/fifo",
      "$BW --ro-bind / / --unshare-pid --info-fd 6 --block-fd 5 /bin/echo ran 6>{D}/info & p=$!",
      waitfor("grep -q child-pid {D}/info"),
      "grep -q child-pid {D}/info && echo info-first || echo no-info",
      "printf x >&5",
      "wait $p; echo rc=$?" }, "\n") },
  { name = "--userns-block-fd without --info-fd", rc = 1, sh = "$BW --unshare-user --userns-block-fd 5 " ..
      "--ro-bind / / true 5</dev/null" },
  { name = "--bind", setup = "mkdir src && echo hi > src/f", sh = bw("--ro-bind / / --bind {D}/src /mnt",
      "cat /mnt/f; echo new > /mnt/g && cat {D}/src/g; " .. FSPROBE) },
  { name = "--bind (missing source)", rc = 1, sh = bw("--ro-bind / / --bind /nonexistent-nslua /mnt", "true"),
    stderr = function(e) return e end },
  { name = "--bind-try", setup = "mkdir src", sh = bw("--ro-bind / / --tmpfs /mnt --bind-try /nonexistent-nslua " ..
      "/mnt/x --bind-try {D}/src /mnt/y",
      "ls /mnt; touch /mnt/y/w && echo writable; " .. FSPROBE) },
  { name = "--dev-bind", sh = bw("--ro-bind / / --tmpfs /mnt --dev-bind /dev/null /mnt/null --bind /dev/null " ..
      "/mnt/nodev",
      "echo x > /mnt/null && echo dev-ok; echo x > /mnt/nodev 2>&1 && echo nodev-ok || echo nodev-refused; " ..
        FSPROBE) },
  { name = "--dev-bind-try", sh = bw("--ro-bind / / --tmpfs /mnt --dev-bind-try /nonexistent-nslua /mnt/x " ..
      "--dev-bind-try /dev/zero /mnt/zero",
      "head -c 3 /mnt/zero | od -An -tx1; ls /mnt; " .. FSPROBE) },
  { name = "--ro-bind", setup = "mkdir src", sh = bw("--bind / / --ro-bind {D}/src /mnt",
      "touch /mnt/x 2>&1 && echo wrote || echo read-only; " .. FSPROBE) },
  { name = "--ro-bind-try", sh = bw("--bind / / --ro-bind-try /nonexistent-nslua /mnt/x --ro-bind-try /etc /mnt/etc",
      "ls /mnt; " .. FSPROBE) },
  { name = "--bind-fd", setup = "mkdir src && echo fdbound > src/f",
    sh = "exec 5<{D}/src; " .. bw("--ro-bind / / --bind-fd 5 /mnt", "cat /mnt/f; touch /mnt/w && echo writable; " ..
        FSPROBE) },
  { name = "--ro-bind-fd", setup = "mkdir src && echo fdbound > src/f",
    sh = "exec 5<{D}/src; " .. bw("--ro-bind / / --ro-bind-fd 5 /mnt", "cat /mnt/f; touch /mnt/w 2>&1 || echo " ..
        "read-only; " .. FSPROBE) },
  { name = "--remount-ro", setup = "mkdir -p a/b",
    sh = bw("--bind / / --bind {D}/a /mnt --remount-ro /mnt",
      "touch /mnt/x 2>&1 && echo wrote || echo read-only; touch {D}/y && echo outside-rw; " .. FSPROBE) },
  { name = "--overlay-src --overlay", min = 11, setup = "mkdir lower upper work && echo 1 > lower/a && echo 2 > " ..
      "lower/b",
    sh = bw("--bind / / --overlay-src {D}/lower --overlay {D}/upper {D}/work /mnt",
      "cat /mnt/a /mnt/b; echo 3 > /mnt/b; cat /mnt/b") .. "; echo rc=$?; cat {D}/lower/b {D}/upper/b",
    doc = function(r) assert.equal("1\n2\n3\nrc=0\n2\n3\n", r.out, r.err) end },
  { name = "--tmp-overlay", min = 11, setup = "mkdir lower && echo 1 > lower/a",
    sh = bw("--bind / / --overlay-src {D}/lower --tmp-overlay /mnt",
      "cat /mnt/a; echo 2 > /mnt/a; cat /mnt/a") .. "; echo rc=$?; cat {D}/lower/a",
    doc = function(r) assert.equal("1\n2\nrc=0\n1\n", r.out, r.err) end },
  { name = "--ro-overlay", min = 11, setup = "mkdir l1 l2 && echo 1 > l1/a && echo 2 > l2/a && echo 3 > l1/b",
    sh = bw("--bind / / --overlay-src {D}/l1 --overlay-src {D}/l2 --ro-overlay /mnt",
      "cat /mnt/a /mnt/b; echo x > /mnt/a 2>&1 || echo read-only") .. "; echo rc=$?",
    doc = function(r) assert.equal("2\n3\nread-only\nrc=0\n", r.out, r.err) end },
  { name = "--overlay-src not followed by an overlay", min = 11, sh = bw("--bind / / --overlay-src /usr --chdir " ..
      "/", "true") .. "; echo rc=$?",
    doc = function(r) assert.equal("rc=1\n", r.out); assert.matches("^bwrap: ", r.err) end },
  { name = "--exec-label", sh = bw("--ro-bind / / --exec-label system_u:system_r:svirt_sandbox_file_t:s0", "id " ..
      "-Z 2>&1 | head -1") .. "; echo rc=$?" },
  { name = "--file-label", sh = bw("--ro-bind / / --file-label system_u:object_r:svirt_sandbox_file_t:s0 " ..
      "--tmpfs /mnt", "echo ran") .. "; echo rc=$?" },
  { name = "--proc", sh = bw("--ro-bind / / --unshare-pid --proc /proc",
      "echo $$; ls -d /proc/1 /proc/self/ns; " .. FSPROBE) },
  { name = "--dev", sh = bw("--ro-bind / / --dev /dev",
      "ls -A /dev | sort | tr '\\n' ' '; echo; stat -c '%n %F %a' /dev/null /dev/zero /dev/full /dev/random " ..
        "/dev/urandom /dev/tty /dev/shm /dev/pts /dev/ptmx; " ..
      "readlink /dev/fd /dev/stdin /dev/core; " .. FSPROBE) },
  { name = "--tmpfs", sh = bw("--ro-bind / / --tmpfs /mnt", "stat -c '%a %U' /mnt; touch /mnt/x && echo " ..
      "writable; " .. FSPROBE) },
  { name = "--mqueue", sh = bw("--ro-bind / / --unshare-ipc --tmpfs /mnt --mqueue /mnt/mq", FSPROBE) },
  { name = "--dir", setup = "mkdir -m 0710 existing",
    sh = bw("--bind / / --dir {D}/new/deep --dir {D}/existing", "true") .. "; stat -c '%n %a' {D}/new " ..
        "{D}/new/deep {D}/existing" },
  { name = "--file", fds = { [5] = "file content\n" },
    sh = bw("--ro-bind / / --tmpfs /mnt --file 5 /mnt/f", "cat /mnt/f; stat -c '%a' /mnt/f; echo more >> /mnt/f " ..
        "&& echo writable; " .. FSPROBE) },
  { name = "--bind-data", fds = { [5] = "bound data\n" },
    sh = bw("--ro-bind / / --tmpfs /mnt --bind-data 5 /mnt/f", "cat /mnt/f; stat -c '%a' /mnt/f; " .. FSPROBE) },
  { name = "--ro-bind-data", fds = { [5] = "ro data\n" },
    sh = bw("--ro-bind / / --tmpfs /mnt --ro-bind-data 5 /mnt/f", "cat /mnt/f; stat -c '%a' /mnt/f; echo x > " ..
        "/mnt/f 2>&1 || echo read-only; " .. FSPROBE) },
  { name = "--symlink",
    sh = bw("--ro-bind / / --tmpfs /mnt --symlink /etc/hostname /mnt/abs --symlink ../etc /mnt/rel/up",
      "readlink /mnt/abs /mnt/rel/up") },
  -- (bubblewrap 0.8 made a symlink's missing parents 0700; 0.11 makes every
  -- missing parent 0755, less what --perms denies group and others)
  { name = "--symlink's missing parents", min = 11,
    sh = bw("--ro-bind / / --tmpfs /mnt --symlink ../etc /mnt/rel/up --perms 0700 --dir /mnt/p/d",
      "stat -c '%n %a' /mnt/rel /mnt/p /mnt/p/d"),
    doc = function(r) assert.equal("/mnt/rel 755\n/mnt/p 700\n/mnt/p/d 700\n", r.out, r.err) end },
  { name = "--symlink over a different existing link", rc = 1, min = 9,
    sh = bw("--ro-bind / / --tmpfs /mnt --symlink /a /mnt/l --symlink /b /mnt/l", "true"),
    doc = function(r) assert.equal(1, r.rc); assert.matches("existing destination is /a", r.err, 1, true) end },
  { name = "--symlink again with the same text", min = 9,
    sh = bw("--ro-bind / / --tmpfs /mnt --symlink /a /mnt/l --symlink /a /mnt/l", "readlink /mnt/l"),
    doc = function(r) assert.equal(0, r.rc, r.err); assert.equal("/a\n", r.out) end },
  { name = "--seccomp", x86 = true, fds = { [5] = deny_nr(63) },
    sh = bw("--ro-bind / / --seccomp 5", "x=$(uname -n 2>&1); echo uname=$?; cd / 2>&1; echo cd=$?") },
  { name = "--add-seccomp-fd", x86 = true, fds = { [5] = deny_nr(63), [6] = deny_nr(80) },
    sh = bw("--ro-bind / / --add-seccomp-fd 5 --add-seccomp-fd 6", "x=$(uname -n 2>&1); echo uname=$?; cd / " ..
        "2>&1; echo cd=$?") },
  { name = "--seccomp (not a multiple of 8)", rc = 1, fds = { [5] = "1234567" },
    sh = bw("--ro-bind / / --seccomp 5", "true"), stderr = function(e) return e end },
  { name = "--info-fd", sh = bw("--ro-bind / / --unshare-all --info-fd 5", "true") ..
      " 5>{D}/info; echo rc=$?; echo @@json; cat {D}/info" },
  { name = "--json-status-fd", sh = bw("--ro-bind / / --unshare-pid --json-status-fd 5", "exit 42") ..
      " 5>{D}/status; echo rc=$?; echo @@json; cat {D}/status" },
  { name = "--json-status-fd (exec failure)", sh = "$BW --ro-bind / / --json-status-fd 5 /nonexistent-nslua " ..
      "5>{D}/status; echo rc=$?; echo @@json; cat {D}/status" },
  { name = "--new-session", sh = "cut -d' ' -f6 /proc/$$/stat > {D}/sid; " ..
      bw("--ro-bind / / --new-session", "[ $(cut -d' ' -f6 /proc/self/stat) = $(cat {D}/sid) ] && echo " ..
          "same-session || echo new-session") ..
      "; " .. bw("--ro-bind / /", "[ $(cut -d' ' -f6 /proc/self/stat) = $(cat {D}/sid) ] && echo same-session " ..
        "|| echo new-session") },
  { name = "--die-with-parent", sh = table.concat({
      "/bin/sh -c '$BW --die-with-parent --bind / / /bin/sh -c \"echo \\$\\$ > {D}/inner; exec sleep 30\"; " ..
        "true' & p=$!",
      waitfor("[ -s {D}/inner ]"),
      "kill -9 $p; sleep 0.5; i=$(cat {D}/inner)",
      -- (a killed orphan may stay a zombie a while: that is dead too)
      "st=$(cut -d' ' -f3 /proc/$i/stat 2>/dev/null)",
      'if [ -n "$st" ] && [ "$st" != Z ]; then echo alive; kill -9 $i; else echo dead; fi',
      -- a SIGKILLed nslua cannot remove its state record: the next start
      -- does (DESIGN "State"), and the leak check wants it gone
      "$BW --ro-bind / / true" }, "\n") },
  { name = "--as-pid-1", sh = bw("--ro-bind / / --unshare-pid --as-pid-1 --proc /proc", "echo $$; echo $PPID") },
  { name = "--as-pid-1 without --unshare-pid", rc = 1, sh = bw("--ro-bind / / --as-pid-1", "true") },
  { name = "--cap-add", sh = bw("--ro-bind / / --unshare-user --cap-add CAP_SYS_ADMIN --cap-add cap_net_raw",
      "grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status") },
  { name = "--cap-drop", modes = { "root" }, sh = bw("--ro-bind / / --cap-drop CAP_KILL --cap-drop ALL " ..
      "--cap-add CAP_CHOWN",
      "grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status") .. "; " ..
      bw("--ro-bind / / --cap-drop CAP_KILL", "grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs' /proc/self/status"),
    -- docs/bwrap.md "Deliberate differences": nslua also takes a dropped
    -- capability out of the bounding set (bubblewrap leaves root's alone)
    compare = function(b, n)
      local function sets(out)
        local t, bnd = {}, {}
        for k, v in out:gmatch("(%w+):%s*(%x+)") do
          if k == "CapBnd" then bnd[#bnd + 1] = v else t[#t + 1] = k .. "=" .. v end
        end
        return t, bnd
      end
      local bs = sets(b.obs.out)
      local ns, nbnd = sets(n.obs.out)
      assert.equal(9, #bs, b.obs.out)   -- 4 sets twice and NoNewPrivs
      assert.same(bs, ns)
      local prm = {}
      for v in n.obs.out:gmatch("CapPrm:%s*(%x+)") do prm[#prm + 1] = v end
      assert.same(prm, nbnd, "nslua's bounding set is what it keeps")
    end },
  { name = "caps of a plain run", sh = bw("--ro-bind / /", "grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs' " ..
      "/proc/self/status") },
  { name = "--perms with --dir, --tmpfs and --file", fds = { [5] = "x" },
    sh = bw("--ro-bind / / --tmpfs /mnt --perms 0750 --dir /mnt/a/b --perms 01777 --tmpfs /mnt/t --perms 0640 " ..
        "--file 5 /mnt/f --dir /mnt/plain",
      "stat -c '%n %a' /mnt/a /mnt/a/b /mnt/t /mnt/f /mnt/plain") },
  { name = "--perms twice", rc = 1, sh = bw("--ro-bind / / --perms 0700 --perms 0700 --tmpfs /mnt", "true") },
  { name = "--size", sh = bw("--ro-bind / / --size 1048576 --tmpfs /mnt", "df --output=size -B1K /mnt | tail -1") },
  { name = "--size (bogus)", rc = 1, sh = bw("--ro-bind / / --size 12bogus --tmpfs /mnt", "true") },
  { name = "--chmod", sh = bw("--ro-bind / / --tmpfs /mnt --dir /mnt/d --chmod 1750 /mnt/d --chmod 0600 " ..
      "/mnt", "stat -c '%n %a' /mnt/d; stat -c %a /mnt") },
  { name = "--level-prefix", min = 11, sh = bw("--level-prefix --ro-bind / / --bind /nonexistent-nslua /mnt", "true"),
    doc = function(r) assert.equal(1, r.rc); assert.matches("^<%d>bwrap: ", r.err) end },
  -- exit codes and the command
  { name = "exit code of the command", rc = 42, sh = bw("--ro-bind / /", "exit 42") },
  { name = "command killed by a signal", rc = 143, sh = bw("--ro-bind / /", "kill -TERM $$") },
  { name = "command not found", rc = 1, sh = "$BW --ro-bind / / " ..
      "/nonexistent-nslua", stderr = function(e) return e end },
  { name = "no command", rc = 1, sh = "$BW --ro-bind / /" },
  { name = "unknown option", rc = 1, sh = "$BW --no-such-option /bin/true", stderr = function(e) return e end },
  { name = "-- ends the options", sh = "$BW --ro-bind / / -- /bin/sh -c 'echo ran'; $BW --ro-bind / / -- " ..
      "--dev-bind 2>/dev/null; echo rc=$?" },
  { name = "the empty root", sh = "$BW --ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib " ..
      "--symlink usr/lib64 /lib64 " ..
      "/bin/sh -c 'ls -A / | tr \"\\n\" \" \"; stat -c \"%a %F\" /; touch /x && echo root-writable'" },
}

--------------------------------------------------------------------------
-- Ordering: later operations shadow earlier ones, masks after broad binds.
--------------------------------------------------------------------------
local ORDERING = {
  { name = "--dev-bind / / then a mask", sh = bw("--dev-bind / / --ro-bind /dev/null /etc/shadow", SHADOW) },
  { name = "--bind / / then a mask", sh = bw("--bind / / --ro-bind /dev/null /etc/shadow", SHADOW) },
  { name = "a mask then --bind / / (the bind wins)", sh = bw("--ro-bind /dev/null /etc/shadow --bind / /", SHADOW) },
  { name = "--bind-try / / then a mask", sh = bw("--bind-try / / --ro-bind /dev/null /etc/shadow", SHADOW) },
  { name = "--ro-bind-try of the parent then a mask",
    sh = bw("--ro-bind / / --ro-bind-try /etc /etc --ro-bind /dev/null /etc/shadow", SHADOW) },
  { name = "--tmpfs over a bind", setup = "echo secret > s",
    sh = bw("--ro-bind / / --bind {D} {D} --tmpfs {D}", "ls -A {D}; " .. FSPROBE) },
  { name = "a bind over --tmpfs", setup = "echo visible > v",
    sh = bw("--ro-bind / / --tmpfs {D} --ro-bind {D} {D}/again", "ls -A {D} {D}/again; " .. FSPROBE) },
  { name = "--tmpfs over /etc, then a file bound in it",
    sh = bw("--ro-bind / / --tmpfs /etc --ro-bind /etc/hostname /etc/hostname", "ls -A /etc; " .. FSPROBE) },
  { name = "--remount-ro of a subtree, then a rw bind below it", setup = "mkdir -p a/sub",
    sh = bw("--bind / / --bind {D}/a {D}/a --remount-ro {D}/a --bind {D}/a/sub {D}/a/sub",
      "touch {D}/a/x 2>&1 && echo a-rw || echo a-ro; touch {D}/a/sub/y && echo sub-rw; " .. FSPROBE) },
  { name = "--remount-ro of /", sh = bw("--bind / / --tmpfs /mnt --remount-ro /",
      "touch /mnt/x && echo mnt-rw; touch {D}/x 2>&1 && echo root-rw || echo root-ro; " .. FSPROBE) },
  { name = "a file bound over a directory", rc = 1, setup = "mkdir d",
    sh = bw("--ro-bind / / --ro-bind /etc/hostname {D}/d", "ls {D}/d"), stderr = function(e) return e end },
  { name = "a directory bound over a file", rc = 1, setup = "echo x > f",
    sh = bw("--ro-bind / / --ro-bind /usr {D}/f", "ls {D}/f"), stderr = function(e) return e end },
  { name = "the same point bound twice", setup = "mkdir a b && echo A > a/f && echo B > b/f",
    sh = bw("--ro-bind / / --bind {D}/a /mnt --ro-bind {D}/b /mnt", "cat /mnt/f; touch /mnt/x 2>&1 || echo ro; " ..
        FSPROBE) },
  { name = "--dir inside a read-only bind", rc = 1,
    sh = bw("--ro-bind / / --ro-bind /usr /mnt --dir /mnt/nslua-new", "true") },
}

--------------------------------------------------------------------------
-- Real command lines, adapted to this machine's paths; options and their
-- order as the project builds them.
--------------------------------------------------------------------------
local UID_FILE = "nslua:x:0:0::/:/bin/sh\n"
local REAL = {
  -- flatpak run (flatpak-run.c): --args FD with the runtime and app, ids files via fds
  { name = "flatpak run", fds = {
      [3] = table.concat({ "--unshare-ipc", "--unshare-pid", "--die-with-parent",
        "--dir", "/tmp", "--dir", "/var/tmp", "--dir", "/run/host", "--dir", "/run/user/0",
        "--setenv", "XDG_RUNTIME_DIR", "/run/user/0", "--symlink", "../run", "/var/run",
        "--ro-bind", "/sys/block", "/sys/block", "--ro-bind", "/sys/bus", "/sys/bus",
        "--ro-bind", "/sys/class", "/sys/class", "--ro-bind", "/sys/dev", "/sys/dev",
        "--ro-bind", "/sys/devices", "/sys/devices", "--proc", "/proc", "--dev", "/dev",
        "--ro-bind", "/usr", "/usr", "--lock-file", "/usr/lib/os-release",
        "--ro-bind", "/usr/share", "/app", "--lock-file", "/app/base-files/motd",
        "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
        "--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin", "/sbin",
        "--ro-bind-data", "4", "/.flatpak-info", "--symlink", "../../../.flatpak-info", "/run/user/0/flatpak-info",
        "--file", "5", "/etc/passwd", "--file", "6", "/etc/group",
        "--setenv", "FLATPAK_ID", "org.example.App", "--setenv", "PATH", "/app/bin:/usr/bin",
        "--seccomp", "7", "--chdir", "/app", "" }, "\0"),
      [4] = "[Application]\nname=org.example.App\n", [5] = UID_FILE, [6] = "nslua:x:0:\n", [7] = ALLOW_ALL },
    x86 = true,
    sh = "$BW --args 3 --info-fd 8 -- /bin/sh -c " ..
      q("cat /.flatpak-info /etc/passwd; readlink /run/user/0/flatpak-info; " .. D.PROBE) ..
      " 8>{D}/info; echo rc=$?; echo @@json; cat {D}/info" },
  -- flatpak run --devel --command=sh: shared /dev, network and a writable home
  { name = "flatpak run --devel", setup = "mkdir -p home/.var/app/org.example.App",
    sh = bw("--unshare-ipc --unshare-pid --die-with-parent --share-net --dir /tmp --dir /var/tmp --dir /run/host " ..
      "--proc /proc --dev-bind /dev /dev --ro-bind /usr /usr --symlink usr/lib /lib --symlink usr/lib64 /lib64 " ..
      "--symlink usr/bin /bin --symlink usr/sbin /sbin --bind {D}/home {D}/home --setenv HOME {D}/home --chdir " ..
        "{D}/home")
  },
  -- flatpak-spawn --sandbox (portal sub-sandbox): app dirs only, no network
  { name = "flatpak portal sub-sandbox", sh = bw("--unshare-pid --unshare-net --unshare-ipc --die-with-parent " ..
      "--ro-bind /usr /usr --symlink usr/lib /lib --symlink usr/lib64 /lib64 --symlink usr/bin /bin --symlink " ..
        "usr/sbin /sbin " ..
      "--dir /tmp --dir /var/tmp --proc /proc --dev /dev --ro-bind /etc /etc --clearenv --setenv PATH /usr/bin") },
  -- Steam pressure-vessel (pressure-vessel-wrap): runtime /usr over a tmpfs, host /dev, /tmp and home
  { name = "pressure-vessel", setup = "mkdir -p home",
    sh = bw("--unshare-pid --die-with-parent --tmpfs /usr --ro-bind /usr/bin /usr/bin --ro-bind /usr/lib /usr/lib " ..
      "--ro-bind /usr/lib64 /usr/lib64 --ro-bind /usr/share /usr/share --symlink usr/lib /lib --symlink " ..
        "usr/lib64 /lib64 " ..
      "--symlink usr/bin /bin --symlink usr/bin /sbin --dir /run --dir /run/pressure-vessel --ro-bind /etc /etc " ..
      "--dev-bind /dev /dev --proc /proc --ro-bind /sys /sys --bind /tmp /tmp --bind {D}/home {D}/home " ..
      "--setenv HOME {D}/home --setenv STEAM_RUNTIME 0 --unsetenv LD_PRELOAD --chdir {D}/home") },
  -- pressure-vessel --share-pid=false --unshare-home (a fake home and --as-pid-1 launcher)
  { name = "pressure-vessel launcher", setup = "mkdir -p fakehome",
    sh = bw("--unshare-pid --as-pid-1 --die-with-parent --ro-bind / / --tmpfs /home --bind {D}/fakehome /home/user " ..
      "--dev-bind /dev /dev --proc /proc --setenv HOME /home/user --chdir /home/user",
      "echo pid=$$; " .. D.PROBE) },
  -- glycin image loader (glycin sandbox.rs): everything unshared, seccomp allowlist fd
  { name = "glycin loader", x86 = true, setup = "echo image > img.png", fds = { [5] = ALLOW_ALL },
    sh = bw("--unshare-all --die-with-parent --chdir / --ro-bind /usr /usr --dev /dev " ..
      "--symlink /usr/lib /lib --symlink /usr/lib64 /lib64 --symlink /usr/bin /bin --symlink /usr/sbin /sbin " ..
      "--ro-bind-try /etc/ld.so.cache /etc/ld.so.cache --ro-bind-try /nix/store /nix/store " ..
      "--tmpfs /tmp-home --setenv HOME /tmp-home --ro-bind {D}/img.png /tmp/img.png --seccomp 5",
      "cat /tmp/img.png; " .. "echo @@ids; id -u; id -g; echo @@pwd; pwd; echo @@env; env") },
  -- glycin with --clearenv (glycin >= 1.1 passes an explicit environment)
  { name = "glycin loader, clear environment", env = "SECRET=1",
    sh = bw("--unshare-all --die-with-parent --chdir / --ro-bind /usr /usr --dev /dev --symlink usr/lib /lib " ..
      "--symlink usr/lib64 /lib64 --symlink usr/bin /bin --clearenv --setenv GLYCIN_LOADER 1 --tmpfs /tmp-home",
      "echo @@env; env; echo @@ids; id -u") },
  -- gnome-desktop thumbnailer (gnome-desktop-thumbnail-script.c add_bwrap)
  { name = "gnome-desktop thumbnailer", x86 = true, setup = "mkdir out && echo pic > in.png", fds = { [5] = ALLOW_ALL },
    sh = bw("--ro-bind /usr /usr --ro-bind /etc/ld.so.cache /etc/ld.so.cache --symlink /usr/bin /bin " ..
      "--symlink /usr/lib64 /lib64 --symlink /usr/lib /lib --symlink /usr/sbin /sbin --proc /proc --dev /dev " ..
        "--chdir / " ..
      "--setenv GIO_USE_VFS local --unshare-all --die-with-parent --bind {D}/out /tmp " ..
      "--ro-bind {D}/in.png /tmp/gnome-desktop-file-to-thumbnail.png --seccomp 5",
      "cat /tmp/gnome-desktop-file-to-thumbnail.png; echo thumb > /tmp/out.png; " .. D.PROBE) .. "; cat " ..
        "{D}/out/out.png" },
  -- gnome-desktop thumbnailer on a non-merged /usr (ro-binds of the top dirs)
  { name = "gnome-desktop thumbnailer, ro-bind top dirs", setup = "mkdir out",
    sh = bw("--ro-bind /usr /usr --ro-bind /etc/ld.so.cache /etc/ld.so.cache --ro-bind /bin /bin --ro-bind " ..
        "/lib64 /lib64 " ..
      "--ro-bind /lib /lib --ro-bind /sbin /sbin --proc /proc --dev /dev --chdir / --setenv GIO_USE_VFS local " ..
      "--unshare-all --die-with-parent --bind {D}/out /tmp") },
  -- xdg-desktop-portal validate-icon
  { name = "xdg-desktop-portal validate-icon", setup = "echo icon > icon.png",
    sh = bw("--ro-bind /usr /usr --ro-bind /etc/ld.so.cache /etc/ld.so.cache --symlink usr/lib64 /lib64 " ..
      "--symlink usr/lib /lib --symlink usr/bin /bin --symlink usr/sbin /sbin --tmpfs /tmp --unshare-all " ..
        "--die-with-parent " ..
      "--ro-bind {D}/icon.png /tmp/icon --clearenv --setenv GIO_USE_VFS local",
      "cat /tmp/icon; " .. D.PROBE) },
  -- xdg-desktop-portal validate-sound
  { name = "xdg-desktop-portal validate-sound", setup = "echo snd > s.oga",
    sh = bw("--ro-bind /usr /usr --ro-bind /etc/ld.so.cache /etc/ld.so.cache --symlink usr/lib64 /lib64 " ..
      "--symlink usr/lib /lib --symlink usr/bin /bin --tmpfs /tmp --unshare-all --die-with-parent " ..
      "--ro-bind {D}/s.oga /tmp/sound --setenv GST_REGISTRY_FORK no", "cat /tmp/sound; " .. D.PROBE) },
  -- bubblejail (bwrap args over an fd, info fd, its own home)
  { name = "bubblejail", setup = "mkdir -p home", fds = {
      [7] = table.concat({ "--unshare-all", "--die-with-parent", "--new-session", "--ro-bind", "/usr", "/usr",
        "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
        "--symlink", "usr/sbin", "/sbin", "--proc", "/proc", "--dev", "/dev", "--dir", "/tmp",
        "--bind", "{D}/home", "/home/user", "--setenv", "HOME", "/home/user", "--chdir", "/home/user",
        "--ro-bind-data", "8", "/etc/passwd", "" }, "\0"),
      [8] = UID_FILE },
    sh = "$BW --args 7 --info-fd 9 -- /bin/sh -c " .. q("cat /etc/passwd; " .. D.PROBE) ..
      " 9>{D}/info; echo rc=$?; echo @@json; cat {D}/info" },
  -- mkosi sandbox (mkosi/sandbox.py): host /usr, tmpfs root made read-only last
  { name = "mkosi sandbox", setup = "mkdir -p work",
    sh = bw("--proc /proc --dev /dev --ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib " ..
      "--symlink usr/lib64 /lib64 --symlink usr/sbin /sbin --ro-bind /etc /etc --tmpfs /tmp --dir /var/tmp " ..
      "--bind {D}/work /work --setenv SYSTEMD_OFFLINE 1 --unsetenv TMPDIR --die-with-parent --chdir /work " ..
        "--remount-ro /",
      "touch /work/ok && echo work-rw; touch /x 2>&1 || echo root-ro; " .. D.PROBE) },
  -- mkosi tools tree with --unshare-net and --uid 0 inside a user namespace
  { name = "mkosi tools tree", sh = bw("--unshare-user --uid 0 --gid 0 --unshare-net --unshare-ipc " ..
      "--die-with-parent " ..
      "--proc /proc --dev /dev --tmpfs /tmp --ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib " ..
      "--symlink usr/lib64 /lib64 --ro-bind /etc /etc --setenv PATH /usr/bin --remount-ro /") },
  -- osbuild buildroot (osbuild/buildroot.py)
  { name = "osbuild buildroot", setup = "mkdir -p api tree",
    sh = bw("--unshare-ipc --unshare-pid --unshare-uts --new-session --die-with-parent --chdir / " ..
      "--ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib --symlink usr/lib64 /lib64 " ..
      "--symlink usr/sbin /sbin --dev /dev --proc /proc --ro-bind /sys /sys --dir /etc --tmpfs /run " ..
      "--bind {D}/api /run/osbuild/api --bind {D}/tree /run/osbuild/tree --tmpfs /tmp --dir /var/tmp " ..
      "--setenv PATH /usr/sbin:/usr/bin --hostname osbuild", D.PROBE .. "; ls /run/osbuild") },
  -- Codex (codex-rs linux-sandbox, bwrap pipeline): read-only root, writable cwd, .git protected
  { name = "codex workspace-write", setup = "mkdir -p ws/.git && echo cfg > ws/.git/config",
    sh = "cd {D}/ws && $BW --new-session --die-with-parent --ro-bind / / --dev /dev --bind {D}/ws {D}/ws " ..
      "--ro-bind {D}/ws/.git {D}/ws/.git --unshare-user --unshare-pid --unshare-net --proc /proc -- /bin/sh -c " ..
      q("echo x > out && echo cwd-rw; echo y > .git/config 2>&1 || echo git-ro; touch /usr/x 2>&1 || echo " ..
          "root-ro; " .. D.PROBE) },
  -- Codex read-only sandbox
  { name = "codex read-only", sh = bw("--new-session --die-with-parent --ro-bind / / --dev /dev " ..
      "--unshare-user --unshare-pid --unshare-net --proc /proc --", "touch {D}/x 2>&1 || echo ro; " .. D.PROBE) },
  -- Claude Code sandbox-runtime (linux bwrap wrapper): proxy socket, denied files masked
  { name = "claude code sandbox", setup = "mkdir -p proj && echo TOKEN=1 > proj/.env && touch proxy.sock",
    sh = "cd {D}/proj && $BW --new-session --die-with-parent --unshare-net --bind {D}/proxy.sock {D}/proxy.sock " ..
      "--setenv HTTP_PROXY http://localhost:3128 --setenv SANDBOX_RUNTIME 1 --ro-bind / / --bind {D}/proj {D}/proj " ..
      "--ro-bind /dev/null {D}/proj/.env --dev /dev --unshare-pid --proc /proc -- /bin/sh -c " ..
      q("cat .env; echo new > new && echo proj-rw; ls -l {D}/proxy.sock | cut -c1; " .. D.PROBE) },
  -- Claude Code sandbox, writes allowed only in /tmp/claude
  { name = "claude code sandbox, tmp allow-list", setup = "mkdir -p claude",
    sh = bw("--new-session --die-with-parent --unshare-net --ro-bind / / --bind {D}/claude {D}/claude " ..
      "--ro-bind /dev/null /etc/shadow --dev /dev --unshare-pid --proc /proc --",
      "touch {D}/claude/f && echo tmp-rw; " .. SHADOW .. "; " .. D.PROBE) },
  -- rpm-ostree scriptlets (rpmostree-scripts.c)
  { name = "rpm-ostree scriptlet", sh = bw("--dev /dev --proc /proc --dir /tmp --dir /run --chdir / " ..
      "--unshare-pid --unshare-uts --unshare-ipc --unshare-cgroup-try --unshare-net " ..
      "--ro-bind /sys/block /sys/block --ro-bind /sys/bus /sys/bus --ro-bind /sys/class /sys/class --ro-bind " ..
        "/sys/dev /sys/dev " ..
      "--symlink usr/lib /lib --symlink usr/lib64 /lib64 --symlink usr/bin /bin --symlink usr/sbin /sbin " ..
      "--ro-bind /usr /usr --ro-bind /etc /etc --setenv RPM_INSTALL_PREFIX /usr") },
  -- coding-agent shell (e.g. sandboxed tool runners): whole host read-only, cwd bound, tmpfs home
  { name = "agent tool runner", setup = "mkdir -p repo",
    sh = "cd {D}/repo && $BW --ro-bind / / --tmpfs /root --tmpfs /home --bind {D}/repo {D}/repo --tmpfs /tmp " ..
      "--proc /proc --dev /dev --unshare-all --share-net --die-with-parent --new-session -- /bin/sh -c " ..
        q(D.PROBE) },
}

local function check(c, mode)
  local doc = c.min and (not D.have_bwrap or D.minor < c.min)
  if not D.have_bwrap and not doc then
    return pending("/usr/bin/bwrap is missing (Debian package bubblewrap)")
  end
  if c.x86 and not X86_64 then return pending("the BPF programs here are for x86_64") end
  local dir = helper.tmpdir("0755")
  local out = helper.tmpdir("0755")
  local ok, err = pcall(function()
    if doc then
      -- newer than the installed bubblewrap: bubblewrap's documented behaviour
      local r = D.run(c, "nslua", mode, dir, out)
      c.doc(r)
      return
    end
    local b, n = D.both(c, mode, dir, out)
    -- the case itself: bubblewrap does what the case expects
    if os.getenv("BWDIFF_SHOW") then
      io.stderr:write(("== %s %s rc=%s\n%s-- stderr:\n%s"):format(mode, c.name, b.rc, b.out, b.err))
    end
    assert.equal(c.rc or 0, b.rc, "bwrap side: " .. b.out .. b.err)
    if c.compare then return c.compare(b, n, dir) end
    assert.same(b.obs, n.obs, D.diff(b.obs, n.obs) .. "\nnslua stderr: " .. n.err)
  end)
  helper.rmtree(dir)
  helper.rmtree(out)
  if not ok then error(err, 0) end
end

describe("nslua bwrap against bubblewrap", function()
  -- Under `make sanitize` nslua needs the ASan runtime preloaded, and with
  -- bubblewrap's semantics its environment (LD_PRELOAD too) reaches every
  -- payload, whose leak reports would change what is compared.  The C
  -- paths these lines take run under the sanitizers in bwrap_mounts_spec,
  -- bwrap_process_spec, bwrap_ns_spec and cli/run_bwrap_spec.
  if helper.sanitized then
    it("compares with bubblewrap (not under make sanitize)", function()
      pending("the payload would inherit the sanitizer preload (bubblewrap passes the environment on)")
    end)
    return
  end
  local tracker
  before_each(function() tracker = helper.track() end)
  after_each(function() helper.assert_released(tracker) end)

  for _, mode in ipairs({ "root", "rootless" }) do
    for _, group in ipairs({ { "option", OPTIONS }, { "ordering", ORDERING }, { "real", REAL } }) do
      describe(mode .. " " .. group[1], function()
        for _, c in ipairs(group[2]) do
          local modes = c.modes or { "root", "rootless" }
          local wanted = false
          for _, m in ipairs(modes) do wanted = wanted or m == mode end
          if wanted then
            it(c.name, function() check(c, mode) end)
          end
        end
      end)
    end
  end
end)

describe("nslua bwrap's own messages", function()
  -- bubblewrap closes the --info-fd once written; nslua leaves stdin,
  -- stdout and stderr open, or its own failure would have no message
  -- (found by make fuzz: `--info-fd 2`, then a set-up error, exit 1 silent)
  it("still says why it failed after writing --info-fd to stderr", function()
    local ok, out, code = helper.sh(("cd / && %s bwrap --ro-bind / / --info-fd 2 /nonexistent-nslua-cmd")
      :format(helper.nslua))
    assert.is_false(ok)
    assert.equal(1, code)
    assert.matches('"child%-pid": %d+', out)
    assert.matches("bwrap: execvp /nonexistent%-nslua%-cmd: No such file or directory", out)
  end)
end)
