--- nslua.seccomp: seccomp profiles, their validation and compilation.
--
-- A profile is a table:
--
--   { default = action,                 -- what every unlisted syscall gets
--     errno = N,                        -- the errno of default = "errno"
--     unknown_above = action,           -- native numbers above the highest
--                                       -- the profile names ("enosys")
--     badarch = action,                 -- syscalls of arches not added
--                                       -- (default "kill_process")
--     arches = { "native", "x86", ... },-- default: native only
--     syscalls = {
--       { names = { "read", "write" } | name = "x" | nr = 462,
--         action = action, errno = N,
--         args = { { index = 0..5, op = "eq"|"ne"|"lt"|"le"|"gt"|"ge"|"masked_eq",
--                    value = n, mask = n }, ... },
--         comment = "why" },
--       ... } }
--
-- action: "allow" | "errno" (errno = N beside it, default EPERM) | {errno = N}
-- | "enosys" | "kill" (the whole process) | "kill_process" | "kill_thread"
-- | "trap" | "log" | "trace" | {trace = N} | a Lua function (a handler: the
-- syscall is routed to nslua's supervisor, see nslua.notify; `default` may
-- be a function too) | "notify" (the kernel asks the agent that the spec's
-- seccomp_listener names, as OCI's SCMP_ACT_NOTIFY; named syscalls only,
-- and never in a profile with handlers).
--
-- The shorthand { base = "default" | "strict" | profile, notify = { NAME =
-- function, ... } } is the base profile with those syscalls handled (their
-- base rules replaced).  sendmsg and seccomp can never be handled: the exec
-- tail hands the supervisor its listener with sendmsg, and a handled
-- profile refuses a payload's own notify listener (seccomp with
-- SECCOMP_FILTER_FLAG_NEW_LISTENER), whose filter would take our
-- notifications (the newest filter's listener is asked first).
--
-- Rules are libseccomp's: the comparisons of one entry must all hold (AND);
-- entries for the same syscall are alternatives (OR); an entry without args
-- for a syscall wins over every conditional one; a rule whose action is the
-- default one only documents (and counts for unknown_above).  One entry may
-- compare each argument once.
--
-- Docker's and the OCI runtime spec's JSON profiles become such tables
-- through nslua.seccomp_json (M.load_file and M.compile take FILE.json).
--
-- Compiling costs milliseconds (os.clock on the development machine: the
-- default profile, 553 instructions, about 6 ms; strict, 349, about 2 ms;
-- a cached call a few microseconds), so M.compile caches per process:
-- by name for the built-in profiles and files, by identity for tables.
-- The parent compiles before clone; the child's exec tail only loads.
local core = require "nslua.core"
-- require passes the file it found: the source, even when the launcher
-- loaded make's bytecode of it (whose chunk name is relative to the build)
local MODULE_FILE = select(2, ...)

local sc = core.seccomp
local M = {}

--- The action that routes a syscall to the spec's seccomp_listener.
M.NOTIFY = "notify"

local EPERM <const> = core.errno.EPERM
local EOPNOTSUPP <const> = core.errno.EOPNOTSUPP

-- CLONE_NEW* bits.  For clone(2) the low byte is the exit signal
-- (CSIGNAL), so CLONE_NEWTIME (0x80) cannot be asked for there: clone
-- takes 0x7e020000 (NEWNS 0x20000, NEWCGROUP 0x02000000, NEWUTS, NEWIPC,
-- NEWUSER, NEWPID, NEWNET up to 0x40000000); unshare(2) also takes
-- CLONE_NEWTIME.  Both syscalls read the low 32 bits of their flags.
local CLONE_NEW_MASK <const> = 0x7e020000
local UNSHARE_NEW_MASK <const> = 0x7e020080
local LOW32 <const> = 0xffffffff

--- Aligned blocks {mask, value} that cover [0, 2^bits) minus 'excluded'.
-- Each block is one masked_eq comparison with the high mask bits set, so
-- an allow-list of blocks can say "any value but these", which libseccomp
-- cannot say directly (an unconditional rule beats every conditional one,
-- and a conditional rule with the default action is refused).
local function blocks_excluding(bits, excluded)
  local out = {}
  local function split(start, width)
    local size = 1 << width
    for _, v in ipairs(excluded) do
      if v >= start and v < start + size then
        if width > 0 then
          split(start, width - 1)
          split(start + (size >> 1), width - 1)
        end
        return
      end
    end
    out[#out + 1] = { mask = (LOW32 << width) & LOW32, value = start }
  end
  split(0, bits)
  return out
end

--- Entries allowing 'name' when the low 32 bits of argument 'index' are
-- none of 'excluded' (values in [0, 2^bits); anything at or above 2^bits
-- gets the default action).  'extra' comparisons are added to each entry.
local function allow_unless(name, index, bits, excluded, comment)
  local t = {}
  for i, b in ipairs(blocks_excluding(bits, excluded)) do
    t[i] = { name = name, action = "allow", comment = comment,
             args = { { index = index, op = "masked_eq", mask = b.mask, value = b.value } } }
  end
  return t
end

--- Entries allowing 'name' only when the low 32 bits of argument 'index'
-- are one of 'values'.
local function allow_only(name, index, values, comment)
  local t = {}
  for i, v in ipairs(values) do
    t[i] = { name = name, action = "allow", comment = comment,
             args = { { index = index, op = "masked_eq", mask = LOW32, value = v } } }
  end
  return t
end

local function append(list, entries)
  for _, e in ipairs(entries) do list[#list + 1] = e end
  return list
end

-- ioctl(fd, cmd): the kernel reads cmd as an unsigned int, so the upper half
-- of the register must be ignored (masked_eq on the low 32 bits), or
-- 0x100005412 would pass as TIOCSTI.
local TIOCSTI <const> = 0x5412     -- push bytes into the terminal's input queue:
                                   -- a payload sharing a tty types commands
                                   -- into the caller's shell (CVE-2016-7545,
                                   -- CVE-2017-5226 in bubblewrap)
local TIOCLINUX <const> = 0x541c   -- TIOCL_SETSEL/PASTESEL: the same through
                                   -- the console selection (CVE-2023-1523)

local function ioctl_rules()
  return allow_unless("ioctl", 1, 32, { TIOCSTI, TIOCLINUX },
    "every ioctl but TIOCSTI and TIOCLINUX")
end

-- clone without any CLONE_NEW* flag: fork, vfork-style posix_spawn and
-- pthread_create.  clone3 passes its flags in memory that seccomp cannot
-- read, so it gets ENOSYS and glibc (2.34+) falls back to clone; EPERM
-- would be final.
local function clone_rules()
  return {
    { name = "clone", action = "allow",
      args = { { index = 0, op = "masked_eq", mask = CLONE_NEW_MASK, value = 0 } },
      comment = "clone without namespaces (fork, threads)" },
    { name = "clone3", action = "enosys", comment = "flags unreadable; glibc falls back to clone" },
  }
end

--- The built-in profiles, built on first use: a CLI run whose program
-- comes from the on-disk cache never needs their tables.
local builders = {}
M.profiles = setmetatable({}, { __index = function(t, name)
  local build = builders[name]
  if not build then return nil end
  local profile = build()
  rawset(t, name, profile)
  return profile
end })

--[[
The default profile: an allow-list modelled on Docker's default
(moby/profiles/seccomp/default.json) for a payload with few capabilities.

  * unknown syscalls -> EPERM; native numbers above the highest the profile
    names (mseal, 462) -> ENOSYS, so libc treats a newer syscall like one an
    old kernel lacks and falls back;
  * clone with any CLONE_NEW* flag -> EPERM, clone3 -> ENOSYS;
    unshare only without CLONE_NEW*: namespaces are nslua's job, and new
    user namespaces are the usual door to kernel bugs reachable only with
    namespace capabilities;
  * setns, mount and the mount API (open_tree, move_mount, fsopen, fsconfig,
    fsmount, fspick, mount_setattr, statmount, listmount), pivot_root,
    umount2 -> EPERM: the payload must not rearrange or escape its tree;
  * io_uring_*: a large, often-exploited attack surface, and its requests
    bypass seccomp altogether;
  * keyctl, add_key, request_key: the keyring is not namespaced;
  * bpf, perf_event_open, userfaultfd: kernel attack surface and
    side channels;
  * kexec_*, init_module, finit_module, delete_module, reboot, swapon,
    swapoff, acct, quotactl, syslog, clock_settime, settimeofday,
    open_by_handle_at (the "shocker" escape), iopl/ioperm, modify_ldt
    (Docker allows it on x86; only 16-bit code needs it), lsm_set_self_attr;
  * socket: every address family but AF_VSOCK (40: reaches the hypervisor
    host); AF_NETLINK (16) only with protocol NETLINK_ROUTE (0) -- enough
    for getifaddrs() and `ip`, not audit, uevents or sock_diag.  Families
    64 and up do not exist;
  * personality only 0 (PER_LINUX), 0x8 (PER_LINUX32 on some arches),
    0x20000 (UNAME26), 0x20008 and 0xffffffff (query), as Docker: others
    (e.g. READ_IMPLIES_EXEC 0x400000, ADDR_NO_RANDOMIZE 0x40000) weaken
    the payload's own hardening;
  * ioctl TIOCSTI and TIOCLINUX -> EPERM (see above).

Like Docker (kernel 4.8+) it keeps ptrace and process_vm_* allowed: since
4.8 seccomp rechecks after a tracer changes a syscall, and a payload may
only trace what its uid and namespace already allow.
]]
local default_allow = {
  "accept", "accept4", "access", "adjtimex", "alarm", "arch_prctl", "bind", "brk",
  "cachestat", "capget", "capset", "chdir", "chmod", "chown", "chown32", "chroot",
  "clock_adjtime", "clock_adjtime64", "clock_getres", "clock_getres_time64",
  "clock_gettime", "clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64",
  "close", "close_range", "connect", "copy_file_range", "creat", "dup", "dup2", "dup3",
  "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait",
  "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2", "execve",
  "execveat", "exit", "exit_group", "faccessat", "faccessat2", "fadvise64",
  "fadvise64_64", "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat",
  "fchmodat2", "fchown", "fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync",
  "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr", "fsetxattr", "fstat",
  "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate", "ftruncate64",
  "futex", "futex_requeue", "futex_time64", "futex_wait", "futex_waitv", "futex_wake",
  "futimesat", "get_robust_list", "get_thread_area", "getcpu", "getcwd", "getdents",
  "getdents64", "getegid", "getegid32", "geteuid", "geteuid32", "getgid", "getgid32",
  "getgroups", "getgroups32", "getitimer", "getpeername", "getpgid", "getpgrp",
  "getpid", "getppid", "getpriority", "getrandom", "getresgid", "getresgid32",
  "getresuid", "getresuid32", "getrlimit", "getrusage", "getsid", "getsockname",
  "getsockopt", "gettid", "gettimeofday", "getuid", "getuid32", "getxattr",
  "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch",
  "io_cancel", "io_destroy", "io_getevents", "io_pgetevents", "io_pgetevents_time64",
  "io_setup", "io_submit", "ioprio_get", "ioprio_set", "ipc", "kill",
  "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self", "lchown",
  "lchown32", "lgetxattr", "link", "linkat", "listen", "listxattr", "llistxattr",
  "_llseek", "lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64", "madvise",
  "map_shadow_stack", "membarrier", "memfd_create", "memfd_secret", "mincore", "mkdir",
  "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap", "mmap2",
  "mprotect", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive",
  "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64", "mq_unlink",
  "mremap", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock", "munlockall",
  "munmap", "name_to_handle_at", "nanosleep", "newfstatat", "_newselect", "open",
  "openat", "openat2", "pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2",
  "pkey_alloc", "pkey_free", "pkey_mprotect", "poll", "ppoll", "ppoll_time64", "prctl",
  "pread64", "preadv", "preadv2", "prlimit64", "process_mrelease", "process_vm_readv",
  "process_vm_writev", "pselect6", "pselect6_time64", "ptrace", "pwrite64", "pwritev",
  "pwritev2", "read", "readahead", "readlink", "readlinkat", "readv", "recv",
  "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg", "remap_file_pages",
  "removexattr", "rename", "renameat", "renameat2", "restart_syscall", "rmdir", "rseq",
  "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn",
  "rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo",
  "sched_get_priority_max", "sched_get_priority_min", "sched_getaffinity",
  "sched_getattr", "sched_getparam", "sched_getscheduler", "sched_rr_get_interval",
  "sched_rr_get_interval_time64", "sched_setaffinity", "sched_setattr",
  "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp", "select", "semctl",
  "semget", "semop", "semtimedop", "semtimedop_time64", "send", "sendfile",
  "sendfile64", "sendmmsg", "sendmsg", "sendto", "set_robust_list", "set_thread_area",
  "set_tid_address", "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid",
  "setgid32", "setgroups", "setgroups32", "setitimer", "setpgid", "setpriority",
  "setregid", "setregid32", "setresgid", "setresgid32", "setresuid", "setresuid32",
  "setreuid", "setreuid32", "setrlimit", "setsid", "setsockopt", "setuid", "setuid32",
  "setxattr", "shmat", "shmctl", "shmdt", "shmget", "shutdown", "sigaltstack",
  "signalfd", "signalfd4", "sigprocmask", "sigreturn", "socketcall", "socketpair",
  "splice", "stat", "stat64", "statfs", "statfs64", "statx", "symlink", "symlinkat",
  "sync", "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill", "time",
  "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime",
  "timer_gettime64", "timer_settime", "timer_settime64", "timerfd_create",
  "timerfd_gettime", "timerfd_gettime64", "timerfd_settime", "timerfd_settime64",
  "times", "tkill", "truncate", "truncate64", "ugetrlimit", "umask", "uname", "unlink",
  "unlinkat", "utime", "utimensat", "utimensat_time64", "utimes", "vfork", "vmsplice",
  "wait4", "waitid", "waitpid", "write", "writev",
  -- other arches' own names (pseudo numbers on x86_64, used when compiled there)
  "arm_fadvise64_64", "arm_sync_file_range", "breakpoint", "cacheflush", "set_tls",
  "riscv_flush_icache", "s390_pci_mmio_read", "s390_pci_mmio_write",
  "s390_runtime_instr", "sync_file_range2",
}

local default_deny = {
  "setns", "io_uring_setup", "io_uring_enter", "io_uring_register",
  "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
  "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
  "mount", "umount", "umount2", "pivot_root", "open_tree", "move_mount", "fsopen",
  "fsconfig", "fsmount", "fspick", "mount_setattr",
  "reboot", "swapon", "swapoff", "acct", "quotactl", "quotactl_fd", "syslog",
  "clock_settime", "settimeofday", "stime", "open_by_handle_at", "iopl", "ioperm",
  "modify_ldt", "vm86", "vm86old", "uselib", "ustat", "sysfs", "_sysctl",
  "lookup_dcookie", "nfsservctl", "vhangup", "kcmp", "pidfd_getfd",
  "process_madvise", "mbind", "set_mempolicy", "get_mempolicy", "migrate_pages",
  "move_pages", "set_mempolicy_home_node", "fanotify_init",
}

local function default_profile()
  local s = {
    { names = default_allow, action = "allow" },
    { names = default_deny, action = "errno", comment = "see the list above" },
    -- syscalls newer than libseccomp 2.5.4's tables, by number (the same on
    -- every arch since 5.1's unified numbering, 424 and up)
    { nr = 457, action = "errno", comment = "statmount (6.8): mount API" },
    { nr = 458, action = "errno", comment = "listmount (6.8): mount API" },
    { nr = 459, action = "allow", comment = "lsm_get_self_attr (6.8): read-only" },
    { nr = 460, action = "errno", comment = "lsm_set_self_attr (6.8)" },
    { nr = 461, action = "allow", comment = "lsm_list_modules (6.8): read-only" },
    { nr = 462, action = "allow", comment = "mseal (6.10): only restricts the caller" },
    { name = "unshare", action = "allow",
      args = { { index = 0, op = "masked_eq", mask = UNSHARE_NEW_MASK, value = 0 } },
      comment = "unshare without namespaces (CLONE_FILES, CLONE_FS, CLONE_SYSVSEM)" },
  }
  append(s, clone_rules())
  append(s, ioctl_rules())
  -- AF_VSOCK (40) never; AF_NETLINK (16) only with NETLINK_ROUTE below
  append(s, allow_unless("socket", 0, 6, { 16, 40 }, "every family but vsock and netlink"))
  s[#s + 1] = { name = "socket", action = "allow", comment = "AF_NETLINK, NETLINK_ROUTE only",
    args = { { index = 0, op = "masked_eq", mask = LOW32, value = 16 },
             { index = 2, op = "masked_eq", mask = LOW32, value = 0 } } }
  append(s, allow_only("personality", 0, { 0x0, 0x8, 0x20000, 0x20008, 0xffffffff },
    "PER_LINUX, PER_LINUX32, UNAME26 and the query"))
  return { default = "errno", errno = EPERM, unknown_above = "enosys", syscalls = s }
end

builders.default = default_profile

--[[
strict: for judges.  Enough for C and C++ programs (dynamic and static),
python3, lua5.4 and busybox sh to print, read stdin, allocate, start threads
and exec; nothing else.
  * no sockets at all, AF_UNIX included: a judged program talks to no one,
    and an abstract unix socket reaches anything in the same network
    namespace (socket, socketpair -> EPERM);
  * no ptrace, process_vm_*, kcmp, pidfd_*: no looking into other processes;
  * no id changes, capabilities, namespaces, mounts, keyrings, bpf,
    io_uring, memfd_create, userfaultfd, personality, SysV IPC;
  * prctl only with the options glibc, python and threads use;
  * the same clone, clone3, ioctl and unknown_above rules as default.
File system calls stay (mounts decide what is visible and writable).
]]
local strict_allow = {
  -- I/O and files
  "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev",
  "preadv2", "pwritev2", "lseek", "close", "close_range", "open", "openat", "openat2",
  "creat", "access", "faccessat", "faccessat2", "stat", "lstat", "fstat", "newfstatat",
  "statx", "statfs", "fstatfs", "readlink", "readlinkat", "getdents", "getdents64",
  "getcwd", "chdir", "fchdir", "mkdir", "mkdirat", "rmdir", "unlink", "unlinkat",
  "rename", "renameat", "renameat2", "link", "linkat", "symlink", "symlinkat", "chmod",
  "fchmod", "fchmodat", "umask", "truncate", "ftruncate", "fsync", "fdatasync",
  "fallocate", "fadvise64", "utimensat", "getxattr", "lgetxattr", "fgetxattr",
  "listxattr", "llistxattr", "flistxattr", "fcntl", "flock", "dup", "dup2", "dup3",
  "pipe", "pipe2", "sendfile", "copy_file_range", "splice", "tee",
  "poll", "ppoll", "select", "pselect6", "epoll_create", "epoll_create1", "epoll_ctl",
  "epoll_wait", "epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2",
  -- memory
  "brk", "mmap", "munmap", "mprotect", "mremap", "madvise", "mincore", "msync",
  "membarrier",
  -- signals, time, timers
  "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigsuspend", "rt_sigpending",
  "rt_sigtimedwait", "sigaltstack", "restart_syscall", "pause", "alarm", "getitimer",
  "setitimer", "nanosleep", "clock_nanosleep", "clock_gettime", "clock_getres",
  "gettimeofday", "time", "times", "timer_create", "timer_settime", "timer_gettime",
  "timer_getoverrun", "timer_delete",
  -- processes and threads (clone is conditional, below)
  "execve", "execveat", "exit", "exit_group", "fork", "vfork", "wait4", "waitid",
  "kill", "tgkill", "tkill", "getpid", "getppid", "gettid", "getpgrp", "getpgid",
  "setpgid", "getsid", "getuid", "geteuid", "getgid", "getegid", "getresuid",
  "getresgid", "getgroups", "arch_prctl", "set_tid_address", "set_robust_list",
  "get_robust_list", "rseq", "futex", "futex_waitv", "futex_wake", "futex_wait",
  "futex_requeue", "sched_yield", "sched_getaffinity", "sched_getparam",
  "sched_getscheduler", "sched_get_priority_max", "sched_get_priority_min",
  -- information
  "prlimit64", "getrlimit", "getrusage", "sysinfo", "uname", "getrandom", "getcpu",
}

-- prctl options payloads use: PDEATHSIG (1, 2), GET_DUMPABLE (3),
-- SET_NAME/GET_NAME (15, 16, thread names), GET_SECCOMP (21),
-- CAPBSET_READ (23), NO_NEW_PRIVS (38, 39), GET_THP_DISABLE (42),
-- SET_VMA (0x53564d41, glibc names its anonymous mappings).
local STRICT_PRCTL <const> = { 1, 2, 3, 15, 16, 21, 23, 38, 39, 42, 0x53564d41 }

local function strict_profile()
  local s = {
    { names = strict_allow, action = "allow" },
    { names = { "socket", "socketpair" }, action = "errno", comment = "no sockets" },
    { nr = 462, action = "allow", comment = "mseal (6.10): only restricts the caller" },
  }
  append(s, clone_rules())
  append(s, ioctl_rules())
  append(s, allow_only("prctl", 0, STRICT_PRCTL, "harmless prctl options"))
  return { default = "errno", errno = EPERM, unknown_above = "enosys", syscalls = s }
end

builders.strict = strict_profile

--- isolate's deny list (isolate 2.6, man isolate "System call
-- restrictions") as a profile: everything is allowed but what 'flags'
-- (a sum of isolate's syscall_flags bits) names.  1: keyctl -> ENOSYS;
-- 2: socket(AF_VSOCK) -> EAFNOSUPPORT; 4: fcntl file locks, leases and
-- F_NOTIFY -> EPERM, flock -> ENOSYS (locks on an inode shared with
-- another sandbox are a side channel); 8: io_uring_setup -> ENOSYS; 16:
-- only native syscalls (32-bit x86 ones kill the process).
function M.isolate_profile(flags)
  local s = {}
  if flags & 1 ~= 0 then s[#s + 1] = { name = "keyctl", action = "enosys" } end
  if flags & 2 ~= 0 then
    s[#s + 1] = { name = "socket", action = { errno = core.errno.EAFNOSUPPORT },
                  args = { { index = 0, op = "eq", value = 40 } }, comment = "AF_VSOCK" }
  end
  if flags & 4 ~= 0 then
    -- F_SETLK F_SETLKW F_OFD_SETLK F_OFD_SETLKW F_SETLEASE F_NOTIFY
    for _, cmd in ipairs { 6, 7, 37, 38, 1024, 1026 } do
      s[#s + 1] = { name = "fcntl", action = "errno", errno = EPERM,
                    args = { { index = 1, op = "eq", value = cmd } } }
    end
    s[#s + 1] = { name = "flock", action = "enosys" }
  end
  if flags & 8 ~= 0 then s[#s + 1] = { name = "io_uring_setup", action = "enosys" } end
  return { default = "allow", badarch = "kill_process",
           arches = flags & 16 ~= 0 and { "native" } or { "native", "x86" }, syscalls = s }
end

builders.isolate = function() return M.isolate_profile(31) end

--[[
The set-id guard: a filter of its own, loaded beside any profile (even
"none") when a read-write mount is idmapped to a root caller (`nslua run
--bind`, --keep-cwd, an overlay's directory upper; docs/roots.md).  What
the payload writes there lands on the host as uid 0, so it must never
leave a set-user-ID or set-group-ID file, nor file capabilities, for the
host to run:
  * chmod, fchmod, fchmodat, fchmodat2 with S_ISUID or S_ISGID -> EPERM;
    so are open, openat, creat, mknod and mknodat with either bit in the
    mode (the new file would carry it);
  * openat2 reads its mode from memory: ENOSYS (callers fall back to
    openat); io_uring would open files unfiltered: EPERM;
  * setting or removing an extended attribute (setxattr, removexattr and
    their l, f and -at forms) -> EOPNOTSUPP: a POSIX ACL changes who may
    write a file and keeps its set-id bits;
  * a new user namespace (clone, unshare with CLONE_NEWUSER; clone3:
    ENOSYS, glibc falls back to clone) would hold CAP_SETFCAP over the
    mount's files: EPERM.  CAP_SETFCAP, CAP_FSETID, CAP_SYS_ADMIN and
    CAP_SYS_PTRACE themselves are refused beside such a mount
    (resources.lua).
The guard's other half watches such mounts and refuses a write open of a
set-id or file-capability program already there (csrc/guard.c).
]]
local S_ISUID <const>, S_ISGID <const> = 0x800, 0x400
local CLONE_NEWUSER <const> = 0x10000000
builders.setid_guard = function()
  local s = {}
  local function mode_arg(name, index)
    for _, bit in ipairs { S_ISUID, S_ISGID } do
      s[#s + 1] = { name = name, action = "errno", comment = "a set-id mode",
                    args = { { index = index, op = "masked_eq", mask = bit, value = bit } } }
    end
  end
  for _, m in ipairs { { "chmod", 1 }, { "fchmod", 1 }, { "fchmodat", 2 }, { "fchmodat2", 2 },
                       { "open", 2 }, { "openat", 3 }, { "creat", 1 }, { "mknod", 1 },
                       { "mknodat", 2 } } do
    mode_arg(m[1], m[2])
  end
  for _, name in ipairs { "clone", "unshare" } do
    s[#s + 1] = { name = name, action = "errno", comment = "a new user namespace",
                  args = { { index = 0, op = "masked_eq", mask = CLONE_NEWUSER, value = CLONE_NEWUSER } } }
  end
  append(s, {
    { name = "clone3", action = "enosys", comment = "flags unreadable; glibc falls back to clone" },
    { name = "openat2", action = "enosys", comment = "mode unreadable; callers fall back to openat" },
    { name = "io_uring_setup", action = "errno", comment = "its requests bypass seccomp" },
  })
  -- a POSIX ACL keeps a set-id bit and may open the file to others
  for _, name in ipairs { "setxattr", "lsetxattr", "fsetxattr", "removexattr", "lremovexattr",
                          "fremovexattr" } do
    s[#s + 1] = { name = name, action = "errno", errno = EOPNOTSUPP, comment = "an ACL keeps set-id bits" }
  end
  append(s, {
    { nr = 463, action = "errno", errno = EOPNOTSUPP, comment = "setxattrat (6.13): as setxattr" },
    { nr = 466, action = "errno", errno = EOPNOTSUPP, comment = "removexattrat (6.13): as removexattr" },
  })
  return { default = "allow", badarch = "kill_process", arches = { "native", "x86" }, syscalls = s }
end

--- The capability of 'lists' (lists of names, any spelling: "cap_setfcap",
-- "CAP_FSETID", "all") that would get round the set-id guard: CAP_SETFCAP
-- (file capabilities), CAP_FSETID (a set-id bit kept across a write),
-- CAP_SYS_ADMIN (a mount of its own, which the guard's watch does not
-- see) or CAP_SYS_PTRACE (the init's copy of the watch's group), by its
-- upper-case name or "all"; nil when none is there.
function M.setid_guard_cap(...)
  local validate = require "nslua.validate"
  for _, list in ipairs { ... } do
    for _, c in ipairs(list) do
      local n = validate.cap_name(c)
      if n == "cap_setfcap" or n == "cap_fsetid" or n == "cap_sys_admin" or n == "cap_sys_ptrace"
        or n == "all" then
        return n == "all" and "all" or n:upper()
      end
    end
  end
end

-- "none" is the absence of a filter.
M.profiles.none = nil

----------------------------------------------------------------------------
-- Validation
----------------------------------------------------------------------------

local ACTIONS <const> = {
  allow = true, enosys = true, errno = true, kill = true, kill_process = true,
  kill_thread = true, log = true, trace = true, trap = true,
}
local OPS <const> = { eq = true, ne = true, lt = true, le = true, gt = true, ge = true,
                      masked_eq = true }
-- the architectures libseccomp 2.5 knows, for names of other arches' syscalls
local ARCHES <const> = {
  "x86", "x86_64", "x32", "arm", "aarch64", "mips", "mips64", "mips64n32", "mipsel",
  "mipsel64", "mipsel64n32", "ppc", "ppc64", "ppc64le", "s390", "s390x", "parisc",
  "parisc64", "riscv64",
}

local function is_int(v)
  return math.type(v) == "integer"
end

local function known_syscall(name)
  if sc.resolve(name) then return true end
  for _, a in ipairs(ARCHES) do
    local ok, nr = pcall(sc.resolve, name, a)
    if ok and nr then return true end
  end
  return false
end

--- libseccomp's architecture names (SCMP_ARCH_<upper case> in JSON).
M.ARCHES = ARCHES
--- Does libseccomp know syscall 'name' on any of M.ARCHES?
M.known_syscall = known_syscall

local function check_fields(t, allowed, path)
  for k in pairs(t) do
    if not allowed[k] then
      local names = {}
      for n in pairs(allowed) do names[#names + 1] = n end
      table.sort(names)
      return ("%s: unknown field '%s' (valid: %s)"):format(path, tostring(k),
        table.concat(names, " "))
    end
  end
end

local function check_errno(v, path, field, max)
  if v ~= nil and not (is_int(v) and v >= 0 and v <= max) then
    return ("%s.%s: must be an integer in 0..%d"):format(path, field, max)
  end
end

-- The action at t[field]; 'holder' is the table whose 'errno' "errno" uses.
local function check_action(holder, field, path, handler_ok, notify_ok)
  local a = holder[field]
  local p = path .. "." .. field
  if a == nil then return nil end
  if type(a) == "function" then
    if handler_ok then return nil end
    return p .. ": cannot be a Lua handler"
  end
  if type(a) == "string" then
    if a == M.NOTIFY then
      if notify_ok then return nil end
      return p .. ": \"notify\" names syscalls: a listener is never asked about every other one"
    end
    if not ACTIONS[a] then
      return ("%s: unknown action '%s' (valid: allow enosys errno kill kill_process "
        .. "kill_thread log notify trace trap)"):format(p, a)
    end
    return nil
  elseif type(a) == "table" then
    local err = check_fields(a, { errno = true, trace = true }, p)
    if err then return err end
    if (a.errno == nil) == (a.trace == nil) then
      return p .. ": a table action is {errno = N} or {trace = N}"
    end
    return check_errno(a.errno, p, "errno", 4095) or check_errno(a.trace, p, "trace", 65535)
  end
  return ("%s: must be an action (string or table), not %s"):format(p, type(a))
end

local function check_args(args, path)
  if type(args) ~= "table" then return path .. ": must be a list" end
  if #args > 6 then return path .. ": at most 6 argument comparisons" end
  local seen = {}
  for i, c in ipairs(args) do
    local p = ("%s[%d]"):format(path, i)
    if type(c) ~= "table" then return p .. ": must be a table" end
    local err = check_fields(c, { index = true, op = true, value = true, mask = true }, p)
    if err then return err end
    if not (is_int(c.index) and c.index >= 0 and c.index <= 5) then
      return p .. ".index: must be an integer in 0..5"
    end
    if seen[c.index] then
      return ("%s.index: argument %d is already compared in this entry (libseccomp "
        .. "allows one comparison per argument; use two entries)"):format(p, c.index)
    end
    seen[c.index] = true
    if not OPS[c.op] then
      return ("%s.op: unknown op '%s' (valid: eq ne lt le gt ge masked_eq)"):format(p,
        tostring(c.op))
    end
    if not is_int(c.value) then return p .. ".value: must be an integer" end
    if c.op == "masked_eq" then
      if not is_int(c.mask) then return p .. ".mask: op 'masked_eq' needs an integer mask" end
    elseif c.mask ~= nil then
      return p .. ".mask: only for op 'masked_eq'"
    end
  end
end

-- Syscalls no handler may take (see the top of this file).
local UNHANDLED <const> = {
  sendmsg = "sendmsg cannot be handled: it hands the supervisor its listener",
  seccomp = "seccomp cannot be handled: a handled profile refuses the payload's own listeners",
}
local UNNOTIFIED <const> = {
  sendmsg = "sendmsg cannot notify: it hands the listener to seccomp_listener",
  seccomp = "seccomp cannot notify: a notifying profile refuses the payload's own listeners",
}
-- and what the exec tail does when it cannot hand the listener over: it
-- closes it and fails (a status write, an exit), with nobody to answer
for _, n in ipairs { "close", "write", "exit", "exit_group" } do
  UNNOTIFIED[n] = n .. " cannot notify: nslua's exec tail needs it once the filter is loaded"
end
--- The syscalls "notify" cannot route, and why (the JSON converter's too).
M.UNNOTIFIED = UNNOTIFIED

local function check_entry(e, path)
  if type(e) ~= "table" then return path .. ": must be a table" end
  local err = check_fields(e, { names = true, name = true, nr = true, action = true,
    errno = true, args = true, comment = true }, path)
  if err then return err end
  local given = (e.names ~= nil and 1 or 0) + (e.name ~= nil and 1 or 0)
    + (e.nr ~= nil and 1 or 0)
  if given ~= 1 then return path .. ": give exactly one of 'names', 'name' or 'nr'" end
  local names = e.names
  if e.name ~= nil then
    if type(e.name) ~= "string" then return path .. ".name: must be a string" end
    names = { e.name }
  end
  if names then
    if type(names) ~= "table" then return path .. ".names: must be a list" end
    for i, n in ipairs(names) do
      if type(n) ~= "string" then
        return ("%s.names[%d]: must be a string"):format(path, i)
      end
      if not known_syscall(n) then
        return ("%s: unknown syscall '%s'"):format(path, n)
      end
    end
  end
  if e.nr ~= nil and not (is_int(e.nr) and e.nr >= 0 and e.nr < 0x40000000) then
    return path .. ".nr: must be an integer in 0..0x3fffffff"
  end
  if e.comment ~= nil and type(e.comment) ~= "string" then
    return path .. ".comment: must be a string"
  end
  if type(e.action) == "function" or e.action == M.NOTIFY then
    local why = type(e.action) == "function" and UNHANDLED or UNNOTIFIED
    for _, n in ipairs(names or {}) do
      if why[n] then return ("%s: %s"):format(path, why[n]) end
    end
    if e.nr ~= nil then return path .. ".nr: a handled syscall is named (names or name)" end
  end
  return check_action(e, "action", path, true, true) or check_errno(e.errno, path, "errno", 4095)
    or (e.args ~= nil and check_args(e.args, path .. ".args")) or nil
end

--- Check a profile table.
-- @treturn[1] boolean true
-- @return[2] nil
-- @treturn[2] string "seccomp.<path>: <problem>"
local check_shorthand

function M.validate(profile, path)
  path = path or "seccomp"
  if type(profile) ~= "table" then
    return nil, ("%s: a profile must be a table, not %s"):format(path, type(profile))
  end
  if profile.base ~= nil or profile.notify ~= nil then return check_shorthand(profile, path) end
  if profile.layers ~= nil then return M.check_layers(profile, path) end
  local err = check_fields(profile, { default = true, errno = true, badarch = true,
    arches = true, unknown_above = true, syscalls = true, comment = true }, path)
    or check_action(profile, "default", path, true) or check_action(profile, "badarch", path)
    or check_action(profile, "unknown_above", path)
    or check_errno(profile.errno, path, "errno", 4095)
  if err then return nil, err end
  if profile.arches ~= nil then
    if type(profile.arches) ~= "table" then return nil, path .. ".arches: must be a list" end
    for i, a in ipairs(profile.arches) do
      local ok = a == "native"
      for _, k in ipairs(ARCHES) do ok = ok or a == k end
      if not ok then
        return nil, ("%s.arches[%d]: unknown architecture '%s'"):format(path, i, tostring(a))
      end
    end
  end
  if profile.syscalls ~= nil then
    if type(profile.syscalls) ~= "table" then
      return nil, path .. ".syscalls: must be a list"
    end
    local lua, listener
    for i, e in ipairs(profile.syscalls) do
      err = check_entry(e, ("%s.syscalls[%d]"):format(path, i))
      if err then return nil, err end
      if type(e.action) == "function" then lua = lua or i end
      if e.action == M.NOTIFY then listener = listener or i end
    end
    if (lua or type(profile.default) == "function") and listener then
      return nil, ("%s.syscalls[%d]: \"notify\" goes to seccomp_listener, which a profile with "
        .. "Lua handlers cannot also use"):format(path, listener)
    end
  end
  return true
end

-- { base = NAME | profile, notify = { NAME = function, ... }, comment }
check_shorthand = function(profile, path)
  local err = check_fields(profile, { base = true, notify = true, comment = true }, path)
  if err then return nil, err end
  local base = profile.base
  if base == nil or base == "none" then
    return nil, path .. ".base: a handled profile names its base (\"default\", \"strict\" or a table)"
  elseif type(base) == "string" then
    if not builders[base] then
      return nil, ("%s.base: unknown profile '%s' (valid: default strict isolate or a table)")
        :format(path, base)
    end
  else
    local ok, berr = M.validate(base, path .. ".base")
    if not ok then return nil, berr end
    if M.has_listener(base) then
      return nil, path .. ".base: a profile with \"notify\" (seccomp_listener) cannot take Lua handlers"
    end
  end
  if type(profile.notify) ~= "table" then
    return nil, path .. ".notify: must be a table { SYSCALL = function, ... }"
  end
  for name, fn in pairs(profile.notify) do
    local p = ("%s.notify.%s"):format(path, tostring(name))
    if type(name) ~= "string" then return nil, path .. ".notify: keys are syscall names" end
    if not known_syscall(name) then return nil, ("%s: unknown syscall '%s'"):format(p, name) end
    if UNHANDLED[name] then return nil, ("%s: %s"):format(p, UNHANDLED[name]) end
    if type(fn) ~= "function" then return nil, p .. ": must be a function (the handler)" end
  end
  return true
end

-- { layers = { PROFILE, ... }, comment }: a name, a FILE.lua or a table each
function M.check_layers(profile, path)
  local err = check_fields(profile, { layers = true, comment = true }, path)
  if err then return nil, err end
  if type(profile.layers) ~= "table" or #profile.layers == 0 then
    return nil, path .. ".layers: must be a list of profiles"
  end
  for i, l in ipairs(profile.layers) do
    local p = ("%s.layers[%d]"):format(path, i)
    if type(l) == "string" then
      if not builders[l] and not (l:find("/", 1, true) or l:match("%.lua$")) then
        return nil, ("%s: unknown profile '%s' (valid: default strict isolate FILE.lua or a table)")
          :format(p, l)
      end
    else
      local ok, lerr = M.validate(l, p)
      if not ok then return nil, lerr end
      if M.has_listener(l) then return nil, p .. ": a layer cannot \"notify\" (seccomp_listener)" end
    end
  end
  return true
end

local expanded = setmetatable({}, { __mode = "k" })

--- The profile with its `base`/`notify` shorthand written out: the base's
-- fields, its rules without the handled syscalls, then one handler entry
-- per handled syscall.  A profile without the shorthand is returned as is.
function M.expand(profile)
  if profile.base == nil and profile.notify == nil then return profile end
  local done = expanded[profile]
  if done then return done end
  local base = profile.base
  if type(base) == "string" then base = M.profiles[base] end
  base = M.expand(base)
  local out = { default = base.default, errno = base.errno, badarch = base.badarch,
                arches = base.arches, unknown_above = base.unknown_above,
                comment = profile.comment or base.comment, syscalls = {} }
  local handled = profile.notify
  for _, e in ipairs(base.syscalls or {}) do
    local names = e.names or (e.name and { e.name })
    local keep = names and {} or nil
    for _, n in ipairs(names or {}) do
      if not handled[n] then keep[#keep + 1] = n end
    end
    if not names or #keep > 0 then
      local c = {}
      for k, v in pairs(e) do c[k] = v end
      if names then c.name, c.names = nil, keep end
      out.syscalls[#out.syscalls + 1] = c
    end
  end
  local names = {}
  for n in pairs(handled) do names[#names + 1] = n end
  table.sort(names)
  for _, n in ipairs(names) do
    out.syscalls[#out.syscalls + 1] = { name = n, action = handled[n], comment = "Lua handler" }
  end
  expanded[profile] = out
  return out
end

local layer_table

--- Does the profile (a table, expanded or not) route anything to user
-- space: to Lua handlers, or to a listener ("notify")?
function M.has_handlers(profile)
  if type(profile) ~= "table" then return false end
  if profile.layers then
    for _, l in ipairs(profile.layers) do
      if M.has_handlers(layer_table(l)) then return true end
    end
    return false
  end
  profile = M.expand(profile)
  if type(profile.default) == "function" then return true end
  for _, e in ipairs(profile.syscalls or {}) do
    if type(e.action) == "function" or e.action == M.NOTIFY then return true end
  end
  return false
end

--- Does the profile (a plain table) route syscalls to a listener ("notify")?
function M.has_listener(profile)
  if type(profile) ~= "table" or profile.layers then return false end
  for _, e in ipairs(M.expand(profile).syscalls or {}) do
    if e.action == M.NOTIFY then return true end
  end
  return false
end

-- seccomp(2) flags: SECCOMP_FILTER_FLAG_NEW_LISTENER
local NEW_LISTENER <const> = 8

--- Split a handled profile into what the kernel runs and what Lua runs.
-- @return main profile (handlers become "allow"), the notify profile
--   (handled syscalls "notify", all else "allow"), handlers {NAME = fn},
--   the default handler (or nil)
function M.split(profile)
  profile = M.expand(profile)
  local main, nsys, handlers = {}, {}, {}
  for k, v in pairs(profile) do main[k] = v end
  local default = type(profile.default) == "function" and profile.default or nil
  if default then main.default = "allow" end
  main.syscalls = {}
  for i, e in ipairs(profile.syscalls or {}) do
    local c = {}
    for k, v in pairs(e) do c[k] = v end
    if type(e.action) == "function" or e.action == M.NOTIFY then
      c.action = "allow"
      main.syscalls[i] = c
      local n = {}
      for k, v in pairs(c) do n[k] = v end
      n.action = "notify"
      nsys[#nsys + 1] = n
      for _, name in ipairs(e.names or { e.name }) do handlers[name] = e.action end
    else
      main.syscalls[i] = c
      if default then
        -- named with a static action: the kernel's verdict, never a handler's
        local n = {}
        for k, v in pairs(c) do n[k] = v end
        n.action, n.errno = "allow", nil
        nsys[#nsys + 1] = n
      end
    end
  end
  -- the exec tail's sendmsg of the listener, and no listener of the payload's own
  nsys[#nsys + 1] = { name = "sendmsg", action = "allow" }
  nsys[#nsys + 1] = { name = "seccomp", action = "errno", errno = EPERM,
    args = { { index = 1, op = "masked_eq", mask = NEW_LISTENER, value = NEW_LISTENER } } }
  local notify = { default = default and "notify" or "allow", arches = profile.arches,
                   badarch = "allow", syscalls = nsys }
  return main, notify, handlers, default
end

----------------------------------------------------------------------------
-- Compilation
----------------------------------------------------------------------------

local cache_path, read_cache, write_cache
local by_name = {}
local by_table = setmetatable({}, { __mode = "k" })

--- Load a FILE.lua profile: text only (never bytecode); it returns a table.
-- A FILE.json profile (Docker's or the OCI format) is converted by
-- nslua.seccomp_json; opts.caps (names the sandbox keeps; default none)
-- decide its includes/excludes.caps rules.
-- Raises when the file is unreadable or does not return a table (the
-- profile is part of the operator's spec: a bad one is misuse).
function M.load_file(path, opts)
  if path:match("%.json$") then
    local f, ferr = io.open(path, "r")
    if not f then error(("seccomp profile: %s"):format(ferr), 2) end
    local text = f:read("a")
    f:close()
    local profile, err = require("nslua.seccomp_json").from_json(text or "",
      { caps = opts and opts.caps, what = "seccomp profile " .. path })
    if not profile then error(err, 2) end
    return profile
  end
  local chunk, err = loadfile(path, "t")
  if not chunk then error(("seccomp profile: %s"):format(err), 2) end
  local ok, profile = pcall(chunk)
  if not ok then error(("seccomp profile %s: %s"):format(path, profile), 2) end
  if type(profile) ~= "table" then
    error(("seccomp profile %s: must return a table, not %s"):format(path, type(profile)), 2)
  end
  return profile
end

-- The compile cache's key of file 'p' for 'opts': a JSON profile's rules
-- depend on the capabilities kept.
local function file_key(p, opts)
  if not (p:match("%.json$") and opts and opts.caps) then return p end
  local names = {}
  for n in pairs(require("nslua.seccomp_json").cap_set(opts.caps)) do names[#names + 1] = n end
  table.sort(names)
  return p .. "\0" .. table.concat(names, ",")
end

local function compile_table(profile, label)
  local ok, err = M.validate(profile)
  if not ok then error(err, 3) end
  if profile.layers then error("seccomp: a layered profile compiles through seccomp.prepare", 3) end
  if M.has_handlers(profile) then profile = M.split(profile) end
  local bpf, msg, code = sc.compile(profile)
  if not bpf then
    return nil, ("seccomp '%s': %s"):format(label, msg), code
  end
  return bpf
end

-- The on-disk cache of the built-in profiles' programs (nslua.seccomp_cache),
-- so a CLI run does not pay for libseccomp (several ms) every time; M.CACHE
-- false: neither read nor written.
M.CACHE = true

-- This module's own key (nslua.seccomp_cache.key), taken as it loads: a
-- process that keeps running after the file is edited caches what it
-- compiles under the key of what it loaded, never under the new one.
local source_file = type(MODULE_FILE) == "string" and MODULE_FILE or debug.getinfo(1, "S").source:match("^@(.*)")
local source_key = source_file and require("nslua.seccomp_cache").key(source_file)
cache_path = function(name)
  if not M.CACHE or not source_key then return nil end
  return require("nslua.seccomp_cache").path(name, source_key)
end

-- (for the tests: where a built-in profile's program is cached)
function M._cache_path(name) return cache_path(name) end

read_cache = function(path) return require("nslua.seccomp_cache").read(path) end
write_cache = function(path, bpf) return require("nslua.seccomp_cache").write(path, bpf, source_file) end

--- Compile a profile to the BPF program that seccomp.load and proc.exec take.
-- @param p "default" | "strict" | "none" | "FILE.lua" | "FILE.json" (a
--   path: contains a "/" or ends in ".lua" or ".json") | a profile table
-- @tparam[opt] table opts { caps = the capabilities the sandbox keeps
--   (names; for a JSON profile's includes/excludes) }
-- @treturn[1] string|nil the program (nil for "none"); cached per process
-- @return[2] nil
-- @treturn[2] string message
-- @treturn[2] integer errno
function M.compile(p, opts)
  if p == "none" then return nil end
  if type(p) == "table" then
    local bpf = by_table[p]
    if bpf then return bpf end
    local err, code
    bpf, err, code = compile_table(p, "table")
    if not bpf then return nil, err, code end
    by_table[p] = bpf
    return bpf
  end
  if type(p) ~= "string" then
    error(("seccomp: a profile is a name, a file or a table, not %s"):format(type(p)), 2)
  end
  local key = file_key(p, opts)
  local bpf = by_name[key]
  if bpf then return bpf end
  local cache = builders[p] and cache_path(p)
  if cache then
    bpf = read_cache(cache)
    if bpf then
      by_name[p] = bpf
      return bpf
    end
  end
  local profile
  if builders[p] then
    profile = M.profiles[p]
  elseif p:find("/", 1, true) or p:match("%.lua$") or p:match("%.json$") then
    -- load_file's message names the file; a position in this module
    -- (its level 2) would tell the operator nothing
    local ok, v = pcall(M.load_file, p, opts)
    if not ok then error(v, 0) end
    profile = v
  else
    error(("seccomp: unknown profile '%s' (valid: default strict isolate none, FILE.lua or FILE.json)"):format(p), 2)
  end
  local err, code
  bpf, err, code = compile_table(profile, p)
  if not bpf then return nil, err, code end
  by_name[key] = bpf
  if cache then write_cache(cache, bpf) end
  return bpf
end

local by_file = {}
local prepared = setmetatable({}, { __mode = "k" })

-- A FILE.lua profile whose rules have handlers, as the table it returned
-- (its functions are the handlers); anything else as given.
local function with_handlers(p)
  -- (a JSON profile has no handlers: a JSON file cannot name a function)
  if type(p) ~= "string" or builders[p] or p == "none" or p:match("%.json$")
      or not (p:find("/", 1, true) or p:match("%.lua$")) then
    return p
  end
  local t = by_file[p]
  if t == nil then
    local ok, v = pcall(M.load_file, p)
    if not ok then error(v, 0) end
    t = M.has_handlers(v) and v or false
    by_file[p] = t
  end
  return t or p
end

-- The sorted names of a set (or a name -> handler table), "*" first when
-- a default handler exists: what the plan and explain show.
local function handled_list(set, default)
  local names = {}
  for n in pairs(set) do names[#names + 1] = n end
  table.sort(names)
  if default then table.insert(names, 1, "*") end
  return names
end

-- The handlers' side of a handled profile table: program, handlers, names.
local function handler_side(p)
  local key = M.expand(p)
  local side = prepared[key]
  if side then return side end
  local _, notify, handlers, default = M.split(p)
  local bpf, err, code = sc.compile(notify)
  if not bpf then return nil, ("seccomp handlers: %s"):format(err), code end
  side = { notify = bpf, handlers = handlers, default = default, names = handled_list(handlers, default) }
  prepared[key] = side
  return side
end

-- A layer as a table: a built-in's, a FILE.lua's (loaded once), or itself.
local layer_files = {}
layer_table = function(l)
  if type(l) ~= "string" then return l end
  if builders[l] then return M.profiles[l] end
  local t = by_file[l] or layer_files[l]
  if not t then
    local ok, v = pcall(M.load_file, l)
    if not ok then error(v, 0) end
    t = v
    layer_files[l] = t
  end
  return t
end

-- The handlers of layered profiles: one notify filter for every layer's
-- handled syscalls, and per syscall the layers' handlers asked in order.
-- Every handler must allow: the first refusal is the answer; the first
-- emulation ("value", "fd") is, when no layer refuses.
local function layered_side(p)
  local side = prepared[p]
  if side then return side end
  local parts, nsys, default_any = {}, {}, false
  for i, l in ipairs(p.layers) do
    local t = layer_table(l)
    if M.has_listener(t) then
      return nil, ("seccomp.layers[%d]: a layer cannot \"notify\" (seccomp_listener)"):format(i),
        core.errno.EINVAL
    end
    if M.has_handlers(t) then
      local _, notify, handlers, default = M.split(t)
      local named = {}
      for _, e in ipairs(M.expand(t).syscalls or {}) do
        if type(e.action) ~= "function" then
          for _, n in ipairs(e.names or { e.name }) do named[n] = true end
        end
      end
      parts[#parts + 1] = { handlers = handlers, default = default, named = named }
      default_any = default_any or default ~= nil
      for _, e in ipairs(notify.syscalls) do
        if e.action == "notify" then nsys[#nsys + 1] = e end
      end
    end
  end
  -- with a default handler somewhere, only what every such layer names
  -- statically (and no layer handles) stays out of Lua
  local handled = {}
  for _, part in ipairs(parts) do for n in pairs(part.handlers) do handled[n] = true end end
  if default_any then
    local first
    for _, part in ipairs(parts) do
      if part.default then first = first or part end
    end
    for n in pairs(first.named) do
      local all = not handled[n] and n ~= "sendmsg" and n ~= "seccomp"
      for _, part in ipairs(parts) do
        if part.default and not part.named[n] then all = false end
      end
      if all then nsys[#nsys + 1] = { name = n, action = "allow" } end
    end
  end
  nsys[#nsys + 1] = { name = "sendmsg", action = "allow" }
  nsys[#nsys + 1] = { name = "seccomp", action = "errno", errno = EPERM,
    args = { { index = 1, op = "masked_eq", mask = NEW_LISTENER, value = NEW_LISTENER } } }
  local arches = M.expand(layer_table(p.layers[1])).arches
  local bpf, err, code = sc.compile { default = default_any and "notify" or "allow", arches = arches,
                                      badarch = "allow", syscalls = nsys }
  if not bpf then return nil, ("seccomp handlers: %s"):format(err), code end
  -- Every layer is asked first with a dry request (reads real and cached,
  -- emulations doing nothing): a refusal is the answer, with no side
  -- effect made.  Then the first layer that emulates runs for real, on the
  -- same cached bytes.
  local function ask(req)
    local name, dry, emulating = req.syscall, req:_dry(), nil
    for _, part in ipairs(parts) do
      local h = part.handlers[name] or (not part.named[name] and part.default)
      if h then
        local a, b = h(dry)
        if a == false or a == nil then return a, b end
        if a ~= true then emulating = emulating or h end
      end
    end
    if emulating then return emulating(req) end
    return true
  end
  side = { notify = bpf, handlers = setmetatable({}, { __index = function() return ask end }),
           default = ask, names = handled_list(handled, default_any) }
  prepared[p] = side
  return side
end

--- A profile's compiled programs and handlers: what a start needs.
-- @param p, opts as for M.compile
-- @treturn[1] table { bpf = the main program (nil for "none"), notify =
--   the handlers' program, handlers = { NAME = fn }, default = fn, names =
--   the handled names, sorted, "*" first for a default handler } (the last
--   four nil without handlers)
-- @return[2] nil, message, errno (as M.compile)
function M.prepare(p, opts)
  p = with_handlers(p)
  if type(p) == "table" and p.layers then
    local ok, verr = M.validate(p)
    if not ok then error(verr, 2) end
    local bpf, err, code = M.compile(with_handlers(p.layers[1]), opts)
    if err then return nil, err, code end
    local out = { bpf = bpf, layers = {} }
    for i = 2, #p.layers do
      local b
      b, err, code = M.compile(with_handlers(p.layers[i]), opts)
      if err then return nil, err, code end
      out.layers[#out.layers + 1] = b
    end
    if M.has_handlers(p) then
      local side
      side, err, code = layered_side(p)
      if not side then return nil, err, code end
      out.notify, out.handlers, out.default, out.names = side.notify, side.handlers, side.default,
        side.names
    end
    return out
  end
  local bpf, err, code = M.compile(p, opts)
  if err then return nil, err, code end
  if not M.has_handlers(p) then return { bpf = bpf } end
  local side
  side, err, code = handler_side(p)
  if not side then return nil, err, code end
  if M.has_listener(p) then
    return { bpf = bpf, notify = side.notify, listener = true, names = side.names }
  end
  return { bpf = bpf, notify = side.notify, handlers = side.handlers, default = side.default,
           names = side.names }
end

--- The handled syscall names of a spec's seccomp (a table or a FILE.lua),
-- for the plan and explain: sorted, "*" first for a default handler; nil
-- without handlers (or for a file that does not load: the start says why).
-- The second result is true when they go to a listener ("notify").
function M.handled_names(p)
  local ok, t = pcall(with_handlers, p)
  if not ok or not M.has_handlers(t) then return nil end
  if t.layers then
    local set, any = {}, false
    for _, l in ipairs(t.layers) do
      for _, n in ipairs(M.handled_names(layer_table(l)) or {}) do
        if n == "*" then any = true else set[n] = true end
      end
    end
    return handled_list(set, any)
  end
  local _, _, handlers, default = M.split(t)
  return handled_list(handlers, default), M.has_listener(t)
end

--- The message that goes with a listener to the spec's seccomp_listener:
-- OCI's container process state ("seccompFd"), NUL-ended for the exec
-- tail, which reads it into a buffer of M.LISTENER_STATE_MAX + 1 bytes
-- (NOTIFY_MSG_MAX in csrc/exec.c).
-- @tparam table l the spec's seccomp_listener
-- @tparam integer pid the process that loads the filter (a host pid)
-- @tparam table st { id, status, pid }: the container's state
-- @treturn[1] string the text
-- @return[2] nil, message, errno (EMSGSIZE)
M.OCI_VERSION = "1.0.2"
M.LISTENER_STATE_MAX = 32767
function M.listener_message(l, pid, st)
  local state = { ociVersion = M.OCI_VERSION, id = st.id, status = st.status, pid = st.pid,
                  bundle = l.bundle }
  if l.annotations and next(l.annotations) then state.annotations = l.annotations end
  local text = require("cjson").encode { ociVersion = M.OCI_VERSION, fds = { "seccompFd" }, pid = pid,
                                         metadata = l.metadata or "", state = state }
  if #text > M.LISTENER_STATE_MAX then
    return nil, ("seccomp_listener: the container process state is %d bytes (at most %d)")
      :format(#text, M.LISTENER_STATE_MAX), core.errno.EMSGSIZE
  end
  return text .. "\0"
end

--- Drop the compile cache (after editing a profile table or file).
function M.flush()
  by_name = {}
  by_file = {}
  layer_files = {}
  by_table = setmetatable({}, { __mode = "k" })
  prepared = setmetatable({}, { __mode = "k" })
end

return M
