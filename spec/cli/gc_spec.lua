-- spec/cli/gc_spec.lua - `nslua gc` acts only on records whose lock it
-- takes, and on what they name: a cgroup or link no record names (a
-- starting run's, or one whose record lives in another mount namespace's
-- /run) is never killed nor removed (DESIGN "State").
local helper = require "helper"
local state = require "nslua.state"

describe("nslua gc", function()
  it("never kills the members of, nor removes, an nslua-<id> cgroup no record names #priv", function()
    if not helper.is_root() then return pending("needs root") end
    local layout = require("nslua.cgroup").detect()
    local pids
    for _, h in ipairs(layout and layout.hierarchies or {}) do
      if h.controllers.pids and h.version == 1 then pids = h.dir end
    end
    if not pids then return pending("no v1 pids hierarchy here") end
    local id = state.new_id()
    local dir = pids .. "/nslua-" .. id
    assert(helper.sh("mkdir " .. dir))
    -- a member: a sleep of ours
    local ok, pid = helper.sh(("sh -c 'echo $$ > %s/cgroup.procs; exec sleep 30' >/dev/null 2>&1 & echo $!")
      :format(dir))
    assert.is_true(ok, pid)
    pid = tonumber(pid:match("%d+"))
    local joined
    for _ = 1, 100 do
      joined = (helper.read(dir .. "/cgroup.procs") or ""):match("%d")
      if joined then break end
      helper.sleep(0.02)
    end
    local out
    ok, out = helper.sh(helper.nslua .. " gc")
    local alive, exists = helper.pid_alive(pid), helper.exists(dir)
    os.execute("kill -KILL " .. pid .. " 2>/dev/null")
    for _ = 1, 100 do
      if not helper.pid_alive(pid) then break end
      helper.sleep(0.02)
    end
    assert.is_true(ok, out)
    assert.is_truthy(joined, "the member never joined")
    assert.is_true(alive, "gc killed a member of a cgroup no record names")
    assert.is_true(exists, "gc removed a non-empty cgroup no record names")
    -- empty, it is still no record's (it may be a starting run's): left alone
    ok, out = helper.sh(helper.nslua .. " gc")
    local still = helper.exists(dir)
    if still then os.execute("rmdir " .. dir) end
    assert.is_true(ok, out)
    assert.is_true(still, "gc removed an empty cgroup no record names")
  end)
end)

describe("cgroups after SIGKILL of nslua", function()
  it("200 kills at random moments of set-up with limits: the next start leaves none #priv", function()
    if not helper.is_root() then return pending("needs root") end
    local t = helper.track()
    -- half the runs from a cgroup of their own: their nslua-<id> groups sit
    -- under another parent than the final start's (as in another session)
    local jail = helper.cgroup_jail { "memory", "pids" }
    local N = 200
    -- set-up takes ~30 ms here; the sanitizer build starts ~10x slower
    local max_ms = helper.sanitized and 300 or 30
    local t0 = os.time()
    math.randomseed(os.time() + require("nslua.core").proc.getpid())
    -- the subshell itself into the jail ($$ would be the outer shell's pid)
    local enter = { "read -r me _ < /proc/self/stat" }
    for _, d in ipairs(jail.dirs) do enter[#enter + 1] = ("echo $me > %s/cgroup.procs"):format(helper.quote(d)) end
    enter = table.concat(enter, " && ") .. " && "
    -- a private /run/nslua: only this test's runs sweep these records
    local lines = { "set -e; mount -t tmpfs -o mode=0755 nslua-spec /run/nslua; set +e" }
    for i = 1, N do
      lines[#lines + 1] = ([[(%sexec %s run --memory 64M --pids 32 --name kill%d-%d -- /bin/sleep 5 >/dev/null 2>&1) ]]
        .. [[& p=$!; sleep %.3f; kill -KILL $p 2>/dev/null; wait $p]])
        :format(i % 2 == 0 and enter or "", helper.nslua, i, t0, math.random(0, max_ms) / 1000)
    end
    lines[#lines + 1] = [[grep -q "^[0-9]*:memory:.*nsluaspec" /proc/$$/cgroup && echo "OUTER SHELL JAILED"]]
    -- the killed runs' children hold their record locks until they die too
    lines[#lines + 1] = [[
i=0
for l in /run/nslua/*/lock; do
  while [ -e "$l" ] && ! flock -n "$l" true && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done
done]]
    -- one start (without limits) sweeps what the dead left
    lines[#lines + 1] = helper.nslua .. " run -- /bin/true; echo \"start rc=$?\""
    lines[#lines + 1] = "echo \"RECORDS: $(ls -A /run/nslua | grep -E '^[a-z0-9]{8}$|^\\.[a-z0-9]{8}\\.[0-9]+$'"
      .. " | tr '\\n' ' ')\""
    local ok, out = helper.sh("unshare -m sh -c " .. helper.quote(table.concat(lines, "\n")))
    local left = helper.leftovers(t)
    local jailed = jail.leftovers()
    jail.remove()
    assert.is_true(ok, out)
    assert.matches("start rc=0", out, 1, true)
    assert.not_matches("OUTER SHELL JAILED", out, 1, true)
    assert.equal("RECORDS: ", out:match("RECORDS: [^\n]*"))
    assert.equal(0, #left, "left behind:\n  " .. table.concat(left, "\n  "))
    assert.equal(0, #jailed, table.concat(jailed, "\n"))
    -- most kills must land after the run chose its id (else this tests little)
    assert.is_true(#helper.ids(t) >= N / 4, ("only %d of %d runs got as far as an id"):format(#helper.ids(t), N))
    assert.is_true(os.time() - t0 < 60, "took over a minute")
  end)
end)

describe("nslua gc during starts", function()
  it("300 starts, 4 at a time, against a gc loop: none fails, nothing is left #priv", function()
    if not helper.is_root() then return pending("needs root") end
    if not helper.sh("command -v ip && command -v xargs") then return pending("needs ip and xargs") end
    local t = helper.track()
    -- the runs' groups in a jail of ours, their records in a private
    -- /run/nslua and their links in a private netns: the gc here is the only
    -- one that sees them
    local jail = helper.cgroup_jail { "memory", "pids", "cpuacct", "freezer", "unified" }
    local dir = helper.tmpdir()
    local N, P = 300, 4
    local t0 = os.time()
    local script = ([[
%strue
mount -t tmpfs -o mode=0755 nslua-spec /run/nslua || exit 1
ip link set lo up
D=%s
( n=0; while [ ! -e $D/stop ]; do %s gc >/dev/null 2>$D/gc.err || echo "GC FAILED: $(cat $D/gc.err)"; n=$((n+1)); done
  echo "GC RUNS $n" ) &
g=$!
cat > $D/one.sh <<'EOS'
%s run --memory 64M --pids 32 --net veth --name gc$2-%d -- /bin/true >$1/out.$2 2>&1 || echo "START $2 FAILED: $(cat $1/out.$2)"
EOS
seq %d | xargs -P %d -I{} sh $D/one.sh $D {}
touch $D/stop
wait $g
echo "RECORDS: $(ls -A /run/nslua | grep -E '^[a-z0-9]{8}$|^\.[a-z0-9]{8}\.[0-9]+$' | tr '\n' ' ')"
echo "LINKS: $(ip -o link show | grep -c nsl)"
]]):format(jail.enter, helper.quote(dir), helper.nslua, helper.nslua, t0, N, P)
    local ok, out = helper.sh("unshare -m -n sh -c " .. helper.quote(script))
    local jailed = jail.leftovers()
    jail.remove()
    helper.rmtree(dir)
    assert.is_true(ok, out)
    assert.not_matches("FAILED", out, 1, true)
    local runs = tonumber(out:match("GC RUNS (%d+)"))
    assert.is_true(runs and runs >= 20, "too few gc runs: " .. tostring(runs))
    assert.equal("RECORDS: ", out:match("RECORDS: [^\n]*"))
    assert.equal("LINKS: 0", out:match("LINKS: %d+"))
    assert.same({}, jailed)
    assert.is_true(#helper.ids(t) >= N, "ids logged")
    helper.assert_released(t)
    assert.is_true(os.time() - t0 < 60, "took over a minute")
  end)
end)

describe("nslua gc across mount namespaces", function()
  -- One side runs a container (limits, a veth link), the other side, with
  -- its own /run/nslua, runs gc in a loop while it starts and then a few
  -- times more: gc never touches what no record it holds names.
  local function case(container_private)
    local t = helper.track()
    local jail = helper.cgroup_jail { "memory", "pids", "cpuacct", "freezer", "unified" }
    local dir = helper.tmpdir("0777")
    local private = "unshare -m sh -c 'mount -t tmpfs -o mode=0755 nslua-spec /run/nslua && exec \"$@\"' -- "
    local payload = "touch /d/up; while [ ! -e /d/go ]; do sleep 0.05; done; "
      .. "ip -o link show eth0 >/dev/null && echo ETH0-OK"
    local script = ([[
%strue
ip link set lo up
D=%s
%s%s run --memory 64M --pids 32 --net veth --bind $D:/d -- sh -c %s > $D/run.out 2>&1 &
r=$!
i=0
while [ ! -e $D/up ] && [ $i -lt 400 ]; do %s%s gc >/dev/null 2>&1 || echo "GC FAILED"; i=$((i+1)); done
[ -e $D/up ] && echo UP
id=$(ip -o link show | sed -n 's/^[0-9]*: nsl\([a-z0-9]\{8\}\)h.*/\1/p' | head -1)
before=$(find /sys/fs/cgroup -maxdepth 8 -type d -name "nslua-$id" | sort | tr '\n' ' ')
for k in 1 2 3; do %s%s gc || echo "GC FAILED"; done
echo "LINK: $(ip -o link show | grep -c "nsl${id}h")"
after=$(find /sys/fs/cgroup -maxdepth 8 -type d -name "nslua-$id" | sort | tr '\n' ' ')
[ -n "$before" ] && [ "$before" = "$after" ] && echo "CGROUPS KEPT: $after"
touch $D/go
wait $r
echo "RUN rc=$?"
cat $D/run.out
]]):format(jail.enter, helper.quote(dir),
      container_private and private or "", helper.nslua, helper.quote(payload),
      container_private and "" or private, helper.nslua,
      container_private and "" or private, helper.nslua)
    local ok, out = helper.sh("unshare -n sh -c " .. helper.quote(script))
    local jailed = jail.leftovers()
    jail.remove()
    helper.rmtree(dir)
    assert.is_true(ok, out)
    assert.matches("UP\n", out, 1, true)
    assert.not_matches("GC FAILED", out, 1, true)
    assert.matches("LINK: 1\n", out, 1, true)
    assert.matches("CGROUPS KEPT: /sys", out, 1, true)
    assert.matches("RUN rc=0\n", out, 1, true)
    assert.matches("ETH0-OK", out, 1, true)
    assert.same({}, jailed)
    helper.assert_released(t)
  end

  it("a container whose record is in a private /run survives gc outside #priv", function()
    if not helper.is_root() then return pending("needs root") end
    if not helper.sh("command -v ip") then return pending("needs ip") end
    case(true)
  end)

  it("a container outside survives gc run with a private /run #priv", function()
    if not helper.is_root() then return pending("needs root") end
    if not helper.sh("command -v ip") then return pending("needs ip") end
    case(false)
  end)
end)

describe("nslua gc right after a SIGKILL", function()
  it("waits for the dying init to free the record, then removes it #priv", function()
    if not helper.is_root() then return pending("needs root") end
    local t = helper.track()
    -- nslua is reaped, its child (the init, holding the record lock) is
    -- still dying when gc starts: gc waits for the lock (without the wait
    -- it skipped the record as a live one)
    local out = {}
    for round = 1, 5 do
      local ok, o = helper.sh("unshare -m sh -c " .. helper.quote(([[
mount -t tmpfs -o mode=0755 nslua-spec /run/nslua || exit 1
%s run --memory 64M --name gcnow%d -- /bin/sleep 30 & p=$!
i=0
until [ -n "$(ls /run/nslua/*/info 2>/dev/null)" ] && grep -q init_pid /run/nslua/*/info || [ $i -ge 200 ]; do
  sleep 0.02; i=$((i+1))
done
kill -KILL $p; wait $p
%s gc
echo "RECORDS: $(ls -A /run/nslua | grep -E '^[a-z0-9]{8}$' | tr '\n' ' ')"
]]):format(helper.nslua, round, helper.nslua)))
      assert.is_true(ok, o)
      out[#out + 1] = o
    end
    out = table.concat(out)
    local _, removed = out:gsub("removed %w+", "")
    assert.equal(5, removed, out)
    local _, empty = out:gsub("RECORDS: \n", "")
    assert.equal(5, empty, out)
    helper.assert_released(t)
  end)
end)
