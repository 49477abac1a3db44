-- spec/cli/args_spec.lua - `nslua run`'s fast argument parser gives exactly
-- what argparse gives for the forms it takes, and hands everything else
-- (help, errors, unusual forms) to argparse.
local run = require "nslua.cli.run"

local function argparse_result(args)
  local ok, r = run.parser():pparse(args)
  assert(ok, r)
  return r
end

describe("nslua run arguments", function()
  local same = {
    { "--", "/bin/true" },
    { "--user", "host", "--net", "host", "--", "/bin/true" },
    { "--net", "veth", "--veth-no-host", "--", "/bin/true" },
    { "--name=x", "--hostname", "h", "--", "/bin/sh", "-c", "echo -n hi" },
    { "--bind", "/a", "/b", "--bind", "/c", "--ro-bind", "/d:/e", "--", "/bin/true" },
    { "--ro-bind-try", "/x", "--bind-try", "/y", "/z", "--dev-bind", "/dev/null", "/dev/null", "--", "true" },
    { "--bind-idmap", "/a", "/b", "--", "true" },
    { "--tmpfs", "/t:1M", "--tmpfs", "/u", "--dir", "/d", "--symlink", "usr/bin", "/bin2", "--", "true" },
    { "--file", "/etc/motd", "hello world", "--", "true" },
    { "--env", "A=1", "--env", "B=", "--setenv", "C", "3", "--unsetenv", "D", "--clearenv",
      "--keep-env", "TERM", "--", "env" },
    { "--cwd", "/tmp", "--chdir=/tmp", "--", "pwd" },
    { "--uid", "0", "--gid", "0", "--map-all", "--tty", "--", "id" },
    { "--memory", "64M", "--swap", "0", "--pids", "32", "--time", "1", "--extra-time", "0.5",
      "--wall", "3", "--cpus", "0.5", "--cpuset", "0", "--output", "1M", "--nofile", "64",
      "--rlimit", "nproc=10", "--rlimit", "core=0", "--", "true" },
    { "--caps", "net_bind_service,net_raw", "--seccomp", "strict", "--", "true" },
    { "--stdin", "null", "--stdout", "/tmp/o", "--stderr", "/tmp/e", "--report", "/tmp/r.json",
      "--report-fd", "3", "--json-status-fd", "4", "--", "true" },
    { "--unshare-all", "--unshare-pid", "--die-with-parent", "--new-session", "--share-net",
      "--proc", "/proc", "--dev", "/dev", "--mqueue", "/dev/mqueue", "--", "true" },
    { "--rootfs", "/srv/root", "--", "/bin/true", "--", "-x" },
    { "--name=", "--", "" },
    { "--name", "a", "--name", "b", "--tty", "--tty", "--", "true" },   -- the last one counts
    -- bubblewrap's spellings: ordered ones in mount_order (or cap_order), the others as lists
    { "--perms", "0700", "--dir", "/x", "--size", "4096", "--tmpfs", "/t", "--remount-ro", "/t", "--chmod", "0750",
      "/x", "--dev-bind-try", "/a", "/b", "--dev-bind-try", "/c", "--bind-data", "3", "/d", "--ro-bind-data", "4",
      "/e", "--bind-fd", "5", "/f", "--ro-bind-fd", "5", "/g", "--", "true" },
    { "--overlay-src", "/usr", "--overlay-src", "/etc", "--ro-overlay", "/o", "--overlay-src", "/usr",
      "--tmp-overlay", "/p", "--overlay-src=/usr", "--overlay", "/u", "/w", "/q", "--", "true" },
    { "--caps", "chown", "--cap-add", "CAP_NET_RAW", "--cap-drop", "chown", "--cap-add=ALL", "--", "true" },
    { "--lock-file", "/l", "--lock-file", "/m", "--sync-fd", "3", "--block-fd=4", "--argv0", "x",
      "--as-pid-1", "--die-with-parent", "--add-seccomp-fd", "5", "--add-seccomp-fd", "6", "--info-fd", "7",
      "--json-status-fd", "8", "--disable-userns", "--assert-userns-disabled", "--new-session",
      "--unshare-user-try", "--unshare-cgroup-try", "--", "true" },
    { "--bind", "/a", "/b", "--cap-add", "kill", "--perms", "0600", "--file", "/f", "x", "--cap-drop", "kill",
      "--symlink", "../x", "/y", "--", "true" },
  }
  for i, args in ipairs(same) do
    it(("takes form %d exactly as argparse does: %s"):format(i, table.concat(args, " ")), function()
      local fast = run.parse_fast(args)
      assert.is_table(fast)
      assert.same(argparse_result(args), fast)
    end)
  end

  it("leaves help, errors and unusual forms to argparse", function()
    for _, args in ipairs {
      { "--help" }, { "-h" },                            -- help
      { "--bogus", "--", "true" },                       -- unknown option
      { "--name", "--", "true" },                        -- missing value
      { "--symlink", "a", "--", "true" },                -- too few values
      { "--uid", "-1", "--", "true" },                   -- a value like an option
      { "--bind=/a", "--", "true" },                     -- = with several values
      { "--tty=yes", "--", "true" },                     -- = on a flag
      { "/bin/true" },                                   -- the command without --
      { "--net", "host", "/bin/echo", "--tty" },         -- options after the command
    } do
      assert.is_nil(run.parse_fast(args), table.concat(args, " "))
    end
  end)
end)
