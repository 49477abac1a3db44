-- The default sandbox (`nslua run` starts from this spec; `nslua sandbox -- CMD`
-- runs it directly).  Every namespace but time, a user namespace with the
-- payload as uid/gid 65534, no network but lo, a read-only tmpfs root with
-- read-only /usr and /etc, fresh /proc, a minimal /dev, a private /tmp, no
-- capabilities, the default seccomp profile, core dumps off.
return {
  hostname = "sandbox",
  namespaces = { cgroup = true, ipc = true, mnt = true, net = true, pid = true, uts = true, user = true },
  user = { uid = 65534, gid = 65534 },
  net = "none",
  seccomp = "default",
  limits = { rlimits = { core = 0 } },
}
