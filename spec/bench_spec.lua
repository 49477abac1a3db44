-- spec/bench_spec.lua - the bench tools build, run, and leave nothing behind.
-- Benchmarks are not timed tests: nothing here asserts a speed.
local helper = require "helper"

local OUT = helper.root .. "/build/bench"

-- The bench tools are not instrumented: under `make sanitize` the preloaded
-- ASan runtime would report the compiler's own leaks and the peers'.
local function sh(cmd, prefix)
  return helper.sh((prefix or "") .. "env -u LD_PRELOAD -u ASAN_OPTIONS " .. cmd)
end

local function build()
  return sh("make -s -C " .. helper.quote(helper.root .. "/scripts/bench"))
end

local function rate(out)
  return tonumber(out:match("([%d.]+) runs/s"))
end

local function has(cmd)
  return (helper.sh("command -v " .. cmd))
end

-- Run 'cmd' with the bench's objects counted as this test's own: its
-- cgroups (nslua-bench-<pid>-<n>, made under the caller's cgroup) inside a
-- cgroup jail of ours, nslua ids through the helper's tracker.  Returns ok,
-- output, code, and the list of what it left.
local function jailed(cmd)
  local tracker = helper.track()
  local jail = helper.cgroup_jail { "memory", "pids" }
  local ok, out, code = sh(cmd, jail.enter)
  local left = jail.leftovers()
  for _, v in ipairs(helper.leftovers(tracker)) do left[#left + 1] = v end
  jail.remove()
  return ok, out, code, left
end

local function none(left)
  assert(#left == 0, "left behind on the host:\n  " .. table.concat(left, "\n  "))
end

describe("scripts/bench", function()
  local built, build_out

  setup(function()
    built, build_out = build()
  end)

  it("builds the limit, the bench module and the scripts", function()
    assert.is_true(built, build_out)
    for _, f in ipairs{ "limit", "bench.so", "best.lua", "api.lua" } do
      assert.is_true(helper.exists(OUT .. "/" .. f), f)
    end
  end)

  describe("the limit #priv", function()
    for _, s in ipairs{ "S1", "S2" } do
      for _, mode in ipairs{ "", " -p" } do
        it(("loops %s%s and reports a positive rate"):format(s, mode), function()
          if not helper.is_root() then return pending("needs root") end
          assert.is_true(built, build_out)
          local ok, out, _, left = jailed(("%s/limit -s %s%s -n 5"):format(OUT, s, mode))
          assert.is_true(ok, out)
          assert.matches(("^%s %s 5 runs"):format(s, mode == "" and "direct" or "structure"), out)
          assert.is_true(rate(out) > 0, out)
          none(left)
        end)
      end
    end

    it("runs a sandbox once as a command, with the command's status", function()
      if not helper.is_root() then return pending("needs root") end
      local ok, out, rc = sh(OUT .. "/limit -s S2")
      assert.is_true(ok, out)
      assert.equal(0, rc)
      ok, out, rc = sh(OUT .. "/limit -s S2 -p -c /bin/false")
      assert.is_false(ok)
      assert.equal(1, rc, out)
    end)

    it("reports a set-up failure as exit 125 with the step", function()
      if not helper.is_root() then return pending("needs root") end
      local ok, out, rc = sh(OUT .. "/limit -s S1 -c /nonexistent")
      assert.is_false(ok)
      assert.equal(125, rc)
      assert.matches("execve '/nonexistent': No such file or directory", out, 1, true)
    end)

    it("runs S5 in its own memory and pids cgroups and removes them", function()
      if not helper.is_root() then return pending("needs root") end
      if not helper.exists("/bin/busybox") then return pending("/bin/busybox missing (busybox-static)") end
      local dir = helper.tmpdir("0755")
      assert(helper.sh(("mkdir -p %s/bin %s/proc && cp /bin/busybox %s/bin/ && ln -s busybox %s/bin/sh"
        .. " && ln -s busybox %s/bin/cat"):format(dir, dir, dir, dir, dir)))
      local f = assert(io.open(dir .. "/check", "w"))
      f:write("#!/bin/sh\ncat /proc/self/cgroup /proc/self/uid_map\n")
      f:close()
      os.execute("chmod 0755 " .. dir .. "/check")
      local ok, out, _, left = jailed(("%s/limit -s S5 -p -r %s -c /check"):format(OUT, dir))
      helper.rmtree(dir)
      assert.is_true(ok, out)
      assert.matches(":memory:[^\n]*/nslua%-bench%-%d+%-1\n", out)
      assert.matches(":pids:[^\n]*/nslua%-bench%-%d+%-1\n", out)
      assert.matches("0%s+1100000000%s+1", out)
      none(left)
    end)
  end)

  describe("the bench module", function()
    it("times a command and returns its status and peak RSS", function()
      assert.is_true(built, build_out)
      local ok, out = helper.run_isolated(([[
        package.cpath = %q .. "/?.so;" .. package.cpath
        local bench = require "bench"
        local dt, how, code, rss = bench.spawn({ "/bin/sh", "-c", "exit 3" })
        print(dt > 0, how, code, rss > 0)
        local _, how2, code2 = bench.spawn({ "/nonexistent" })
        print(how2, code2)
        print(pcall(bench.spawn, {}))
      ]]):format(OUT))
      assert.is_true(ok, out)
      assert.matches("true\texited\t3\ttrue\nexited\t127\nfalse\t[^\n]*argv is empty", out)
    end)

    it("pauses without spawning anything", function()
      assert.is_true(built, build_out)
      local ok, out = helper.run_isolated(([[
        package.cpath = %q .. "/?.so;" .. package.cpath
        local bench = require "bench"
        local t0 = bench.now()
        print(bench.sleep(0.02), bench.now() - t0 >= 0.02)
        print(pcall(bench.sleep, -1))
      ]]):format(OUT))
      assert.is_true(ok, out)
      assert.matches("true\ttrue\nfalse\t[^\n]*seconds must be 0%.%.3600", out)
    end)

    it("runs the limit's own code from Lua #priv", function()
      if not helper.is_root() then return pending("needs root") end
      local ok, out = sh(("%s %s/best.lua S2 -p -n 3"):format(helper.LUA, OUT))
      assert.is_true(ok, out)
      assert.is_true(rate(out) > 0, out)
      ok, out = sh(("%s %s/best.lua S1"):format(helper.LUA, OUT))
      assert.is_true(ok, out)
    end)
  end)

  describe("run.lua #priv", function()
    -- One S1 run serves the tests below.  Its temp dirs go to a TMPDIR of
    -- its own (the checkout itself may live under /tmp), so what it could
    -- leave there is its own to list, and it runs in a cgroup jail for its
    -- nslua-bench-* groups.
    local S1
    local function run_s1()
      if S1 then return S1 end
      local json = ("%s/build/bench-spec-%d.json"):format(helper.root, math.random(1 << 30))
      local tmp = helper.tmpdir("0755")
      local script = ("export TMPDIR=%s\n"
        .. "mounts() { awk -v d=\"$TMPDIR/\" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort; }\n"
        .. "%s %s/scripts/bench/run.lua --pairs 2 --warmup 1 --scenarios S1"
        .. " --api-pairs 1 --loop 3 --json %s 2>/dev/null\nrc=$?\n"
        .. "echo \"LEFT: $(ls -A \"$TMPDIR\") $(mounts | tr '\\n' ' ')\"\n"
        .. "exit $rc")
        :format(helper.quote(tmp), helper.LUA, helper.root, helper.quote(json))
      local ok, out, _, left = jailed("sh -c " .. helper.quote(script))
      local data = helper.read(json)
      os.remove(json)
      helper.rmtree(tmp)
      local tmp_left = out:match("\nLEFT: ([^\n]*)\n?$") or "(no listing)"
      out = out:gsub("\nLEFT: [^\n]*\n?$", "\n")
      if tmp_left:match("%S") then left[#left + 1] = "in its TMPDIR: " .. tmp_left end
      S1 = { ok = ok, out = out, data = data, left = left }
      return S1
    end

    local function preconditions()
      if not helper.is_root() then return pending("needs root") end
      -- the peers (bwrap, unshare, crun) are not ours to run under LeakSanitizer
      if helper.sanitized then return pending("the bench runner is checked by make check, not under sanitizers") end
      return true
    end

    -- preconditions(), bwrap installed (an optional package, DESIGN: bench
    -- only, scripts/deps.sh --bench) and the bench built
    local function with_bwrap()
      if not preconditions() then return false end
      if not has("bwrap") then
        pending("bwrap is not installed (bubblewrap; scripts/deps.sh --bench)")
        return false
      end
      assert.is_true(built, build_out)
      return true
    end

    -- run.lua with 'args' in a jail (see jailed), its TMPDIR a scratch dir
    -- of its own; 'prepare(dir)', if given, puts what the run needs in dir
    -- and returns more shell exports.  -> ok, output (ending in a "LEFT:"
    -- line, what the run left in its TMPDIR and the mounts under it), the
    -- JSON it wrote, what it left on the host
    local function run_bench(args, prepare)
      local tmp = helper.tmpdir("0755")
      local exports = prepare and prepare(tmp) or ""
      local json = ("%s/build/bench-spec-%d.json"):format(helper.root, math.random(1 << 30))
      local scratch = tmp .. "/tmp"
      assert(helper.sh("mkdir -m 0755 " .. helper.quote(scratch)))
      local script = ("export TMPDIR=%s %s\n"
        .. "mounts() { awk -v d=\"$TMPDIR/\" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort; }\n"
        .. "%s %s/scripts/bench/run.lua %s --markdown --json %s 2>/dev/null\nrc=$?\n"
        .. "echo \"LEFT: $(ls -A \"$TMPDIR\") $(mounts | tr '\\n' ' ')\"\n"
        .. "exit $rc")
        :format(helper.quote(scratch), exports, helper.LUA, helper.root, args, helper.quote(json))
      local ok, out, _, left = jailed("sh -c " .. helper.quote(script))
      local data = helper.read(json)
      os.remove(json)
      helper.rmtree(tmp)
      return ok, out, data, left
    end

    it("measures S1 side by side, reports missing cells, writes JSON, leaves nothing", function()
      if not preconditions() then return end
      assert.is_true(built, build_out)
      local r = run_s1()
      local out = r.out
      assert.is_true(r.ok, out)
      assert.matches("S1%s+limit%s+1%.00", out)
      -- each nslua cell is measured or names why it is missing
      for _, tool in ipairs{ "nslua run", "nslua API" } do
        local line = out:match("S1%s+" .. tool .. "[^\n]*")
        assert.is_truthy(line, out)
        assert.is_truthy(line:match("missing: %S") or line:match("%d%.%d%d"), line)
      end
      -- an optional peer that is not installed is a missing cell with the reason
      if not has("bwrap") then
        assert.matches("S1%s+bwrap%s+missing: bwrap not found", out)
      end
      assert.not_matches("WARNING", out)
      assert.is_truthy(r.data, "no JSON written")
      assert.matches('"machine":{', r.data, 1, true)
      assert.matches('"kernel":"', r.data, 1, true)
      none(r.left)
    end)

    it("measures bwrap side by side with the limit", function()
      if not with_bwrap() then return end
      local r = run_s1()
      assert.is_true(r.ok, r.out)
      assert.matches("S1%s+bwrap%s+[%d.]+%s+[%d.]+%-[%d.]+%s+[%d.]+%s+[%d.]+%s+%d+", r.out)
      -- the like-for-like row: measured, with its CPU time
      assert.matches("S1%s+bwrap like%s+[%d.]+%s+[%d.]+%-[%d.]+%s+[%d.]+%s+[%d.]+%s+%d+", r.out)
    end)

    -- The "bwrap like" argv of 'scenario' in a run's JSON text.
    local function like_argv(data, scenario)
      for _, row in ipairs(require("cjson").decode(data).cli) do
        if row.scenario == scenario and row.tool == "bwrap like" then return row.argv end
      end
    end

    -- The mount points a command line (words, quoted) sees inside, each
    -- with ro or rw, sorted.
    local PROBE = { "/usr/bin/awk", "{ split($6, o, \",\"); print $5, o[1] }", "/proc/self/mountinfo" }
    local function mounts_seen(words)
      for _, a in ipairs(PROBE) do words[#words + 1] = helper.quote(a) end
      local ok, out = sh("sh -c " .. helper.quote("cd /tmp && " .. table.concat(words, " ") .. " | sort"))
      assert.is_true(ok, out)
      return out
    end

    -- bwrap like's mount points and `nslua run ARGS`'s, seen from inside,
    -- both run after 'prefix' (the rootless user's setpriv, or nothing);
    -- bwrap without the seccomp program (the bench's copy is gone).  Their
    -- other flags differ a little (bwrap's --dev, for one, is nodev, not
    -- noexec).
    local function both_mounts(argv, prefix, nslua)
      local b = { prefix }
      local k = 1
      while k < #argv do
        if argv[k] == "--seccomp" then k = k + 2
        else b[#b + 1] = helper.quote(argv[k]); k = k + 1 end
      end
      return mounts_seen(b), mounts_seen { nslua }
    end

    it("builds bwrap's like-for-like sandbox with nslua's mounts", function()
      if not with_bwrap() then return end
      local r = run_s1()
      assert.is_true(r.ok, r.out)
      local argv = like_argv(r.data, "S1")
      assert.is_truthy(argv, "no bwrap like row")
      local words = table.concat(argv, " ")
      assert.matches(" --seccomp 3 ", words, 1, true)
      assert.matches(" --cap-drop ALL ", words, 1, true)
      assert.matches(" --remount-ro / ", words, 1, true)
      local bw, ns = both_mounts(argv, "", helper.quote(helper.root .. "/build/bin/nslua")
        .. " run --user host --net host --")
      assert.equal(ns, bw)
    end)

    it("builds the rootless (S3) like-for-like sandbox with nslua's mounts", function()
      if not with_bwrap() then return end
      local ok, out, data, left = run_bench("--pairs 1 --warmup 0 --scenarios S3 --no-api")
      assert.is_true(ok, out)
      none(left)
      local argv = like_argv(data, "S3")
      assert.is_truthy(argv, "no bwrap like row: " .. out)
      local words = table.concat(argv, " ")
      assert.matches(" --unshare-user ", words, 1, true)
      assert.matches(" --uid 65534 --gid 65534 ", words, 1, true)
      local bw, ns = both_mounts(argv, helper.SETPRIV, helper.ENV_I .. " " .. helper.rootless_nslua() .. " run --")
      assert.equal(ns, bw)
    end)

    it("spawns: a failed set-up is exit 126, fd 3, the CPU time and how it was counted", function()
      if not preconditions() then return end
      assert.is_true(built, build_out)
      local dir = helper.tmpdir()
      local f = assert(io.open(dir .. "/three", "w"))
      f:write("on fd 3\n")
      f:close()
      local ok, out = helper.run_isolated(([[
        package.cpath = %q .. "/build/bench/?.so;" .. package.cpath
        local bench = require "bench"
        -- a child whose set-up fails exits 126 (and never takes the
        -- caller down with SIGPIPE: it dies before reading its go-ahead)
        for _ = 1, 30 do
          local dt, how, code = bench.spawn({ "/bin/true" }, { cwd = "/nonexistent" })
          assert(dt and how == "exited" and code == 126, tostring(how) .. " " .. tostring(code))
        end
        -- a child of the caller's own, alive meanwhile, is left alone
        local other = io.popen("sleep 0.3; echo mine")
        local dt, how, code, rss, cpu, cpu_how = bench.spawn({ "/bin/sh", "-c", "cat <&3 >%s/out" },
          { fd3 = %q })
        if cpu_how ~= "task-clock" then print("no perf events") os.exit(0) end
        print(how, code, type(rss), cpu > 0, cpu < dt + 0.5, cpu_how, other:read("a") == "mine\n",
          other:close() == true)
        -- a process left running (not waited for) is counted once it ends
        local t0 = bench.now()
        dt, how, code, rss, cpu = bench.spawn({ "/bin/sh", "-c",
          "(i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done) &" })
        print(how, code, cpu > 0.02, cpu > 4 * dt, bench.now() - t0 < 2.5)
      ]]):format(helper.root, dir, dir .. "/three"))
      local got = helper.read(dir .. "/out")
      helper.rmtree(dir)
      assert.is_true(ok, out)
      if out == "no perf events\n" then
        return pending("perf events are refused here (perf_event_paranoid, seccomp)")
      end
      assert.equal("exited\t0\tnumber\ttrue\ttrue\ttask-clock\ttrue\ttrue\n"
        .. "exited\t0\ttrue\ttrue\ttrue\n", out)
      assert.equal("on fd 3\n", got)
    end)

    it("prints Markdown and rejects bad options", function()
      if not helper.is_root() then return pending("needs root") end
      if helper.sanitized then return pending("the bench runner is checked by make check, not under sanitizers") end
      local ok, out = sh(("%s %s/scripts/bench/run.lua --pairs 1 --warmup 0 --scenarios S2,iso"
        .. " --iso-pause 0 --no-api --markdown --json '' 2>/dev/null"):format(helper.LUA, helper.root),
        "env -u ISOLATE ")
      assert.is_true(ok, out)
      assert.matches("| scenario | tool | ratio | min-max | median ms | cpu ms | peak RSS KiB |", out, 1, true)
      assert.matches("\n| S2 | limit | 1.00 |", out, 1, true)
      assert.matches("| scenario | isolate's cycle | init ms | run ms | cleanup ms | cycle ms |", out, 1, true)
      -- without ISOLATE, real isolate is one missing row that says how to add it
      assert.matches("\n| ISO | isolate | missing: set ISOLATE=/path/to/isolate (not packaged by Debian) |"
        .. "  |  |  |\n", out, 1, true)
      assert.not_matches("ISO | isolate --cg", out, 1, true)
      local rc
      ok, out, rc = sh(("%s %s/scripts/bench/run.lua --scenarios S9"):format(helper.LUA, helper.root))
      assert.is_false(ok)
      assert.equal(2, rc)
      assert.matches("unknown scenario S9", out, 1, true)
      ok, out, rc = sh(("%s %s/scripts/bench/run.lua --scenarios ISO --iso-pause soon"):format(helper.LUA, helper.root))
      assert.is_false(ok)
      assert.equal(2, rc)
      assert.matches("--iso-pause needs a number", out, 1, true)
    end)

    -- A stand-in for real isolate (ISOLATE): boxes under nslua's box root
    -- (NSLUA_ISOLATE_ROOT, which the bench sets), and a --cg mode whose
    -- --cleanup forgets its box, for the leftovers check.
    local FAKE_ISOLATE = [=[#!/bin/sh
cg= box= mode=
while [ $# -gt 0 ]; do
  case $1 in
    --cg) cg=-cg ;;
    -b) box=$2; shift ;;
    --init) mode=init ;;
    --run) mode=run ;;
    --cleanup) mode=cleanup ;;
    --) shift; break ;;
  esac
  shift
done
d=$NSLUA_ISOLATE_ROOT/fake$cg-$box
case $mode in
  init) mkdir -p "$d/box" && echo "$d" ;;
  run) [ -d "$d/box" ] && exec "$@" ;;
  cleanup) [ -n "$cg" ] || rm -rf "$d" ;;
esac
]=]

    it("times isolate's cycle step by step for each tool, real isolate from ISOLATE", function()
      if not preconditions() then return end
      assert.is_true(built, build_out)
      local ok, out, data, left = run_bench("--pairs 2 --warmup 1 --scenarios ISO --iso-pause 0 --iso-box 7 --no-api",
        function(tmp)
          local fake = tmp .. "/isolate"
          local f = assert(io.open(fake, "w"))
          f:write(FAKE_ISOLATE)
          f:close()
          os.execute("chmod 0755 " .. helper.quote(fake))
          return "ISOLATE=" .. helper.quote(fake)
        end)
      assert.is_true(ok, out)
      local cell = "%d+%.%d%d %(%d+%.%d%d%-%d+%.%d%d%)"
      local four = " | " .. cell .. " | " .. cell .. " | " .. cell .. " | " .. cell .. " |"
      assert.matches("on box 7,", out, 1, true)
      assert.matches("\n| ISO | isolate" .. four .. "\n", out)
      -- a --cleanup that leaves the box: the row says so and so does the warning
      assert.matches("\n| ISO | isolate %-%-cg | missing: %-%-cleanup left /[^|]*/isolate/fake%-cg%-7 |", out)
      assert.matches("WARNING: this run left on the host:\n  box after its %-%-cleanup: /[^\n]*/fake%-cg%-7", out)
      -- nslua's rows are measured or name why not; the judge has its run only
      for _, tool in ipairs{ "nslua isolate", "nslua isolate %-%-cg" } do
        local line = out:match("\n(| ISO | " .. tool .. " | [^\n]*)")
        assert.is_truthy(line, out)
        assert.is_truthy(line:match("missing: %S") or line:match("^[^\n]*" .. four .. "$"), line)
      end
      local judge = out:match("\n(| ISO | nslua judge | [^\n]*)")
      assert.is_truthy(judge, out)
      assert.is_truthy(judge:match("missing: %S") or judge:match(" |  | " .. cell .. " |  | " .. cell .. " |$"), judge)
      assert.is_truthy(data, "no JSON written")
      assert.matches('"iso":[{', data, 1, true)
      assert.matches('"iso_pause_ms":0', data, 1, true)
      assert.matches('"iso_box":7', data, 1, true)
      -- the bench's temp dir (and every box root in it) is gone
      assert.matches("\nLEFT: %s*$", out)
      none(left)
    end)

    it("pairs nslua-oci with runc under podman and with crun on a bundle", function()
      if not preconditions() then return end
      assert.is_true(built, build_out)
      local ok, out, data, left = run_bench("--pairs 1 --warmup 0 --scenarios OCI --oci-pause 0 --no-api")
      assert.is_true(ok, out)
      assert.matches("| scenario | engine / runtime | ratio | min-max | median ms (min-max) |", out, 1, true)
      -- every row is measured or names why not; a peer is the pair's 1.00
      local cell = "%d+%.%d%d %(%d+%.%d%d%-%d+%.%d%d%)"
      for _, tool in ipairs { "podman %-%-runtime runc", "podman %-%-runtime nslua%-oci", "crun run",
                              "nslua%-oci run" } do
        local line = out:match("\n(| OCI | " .. tool .. " | [^\n]*)")
        assert.is_truthy(line, out)
        assert.is_truthy(line:match("missing: %S") or line:match(cell .. " |$"), line)
      end
      if not has("podman") then
        assert.matches("| OCI | podman --runtime runc | missing: podman not found", out, 1, true)
      end
      if not helper.exists(helper.root .. "/scripts/nslua-oci") and not os.getenv("NSLUA_OCI_RUNTIME") then
        assert.matches("| OCI | nslua%-oci run | missing: runtime [^|]*scripts/nslua%-oci does not exist", out)
      end
      assert.not_matches("WARNING", out)
      assert.is_truthy(data, "no JSON written")
      assert.matches('"oci":[{', data, 1, true)
      assert.matches('"oci_pause_ms":0', data, 1, true)
      -- the bench's temp dir (podman's storage in it) and its mounts are gone
      assert.matches("\nLEFT: %s*$", out)
      none(left)
    end)

    it("measures a judge's tests and S5 with pauses (JUDGE, S5I), leaves nothing", function()
      if not preconditions() then return end
      assert.is_true(built, build_out)
      local ok, out, data, left = run_bench("--pairs 1 --warmup 0 --scenarios s5i,judge --iso-pause 0")
      assert.is_true(ok, out)
      -- S5I: the per-command table's rows; measured, or why not
      assert.matches("\n| S5I | limit | ", out, 1, true)
      local line = out:match("\n(| S5I | nslua run | [^\n]*)")
      assert.is_truthy(line, out)
      assert.is_truthy(line:match("missing: %S") or line:match("^| S5I | nslua run | %d+%.%d%d | "), line)
      -- JUDGE: per test, the wall, the overhead, the program's time (~50 ms), time-wall - it
      local cell = "%d+%.%d%d %(%d+%.%d%d%-%d+%.%d%d%)"
      local signed = "[-+]%d+%.%d%d %([-+]%d+%.%d%d to [-+]%d+%.%d%d%)"
      for _, tool in ipairs { "nslua judge %-%-tests", "nslua judge" } do
        local row = out:match("\n(| JUDGE | " .. tool .. " | [^\n]*)")
        assert.is_truthy(row, out)
        assert.is_truthy(row:match("missing: %S") or row:match(
          ("^[^\n]* | %s | %s | 5%%d%%.%%d%%d [^|]* | %s |$"):format(cell, cell, signed)), row)
      end
      assert.matches("nslua judge --tests: between tests ", out, 1, true)
      assert.not_matches("WARNING", out)
      assert.is_truthy(data, "no JSON written")
      assert.matches('"judge":{', data, 1, true)
      assert.matches('"tests":20', data, 1, true)
      assert.matches('"scenario":"S5I"', data, 1, true)
      assert.matches("\nLEFT: %s*$", out)
      none(left)
    end)
  end)
end)

describe("docs/bench.md", function()
  local RUN = helper.root .. "/scripts/bench/run.lua"
  local S5I_ROW = "| CLI S5 isolated (S5I, a pause before each run): `nslua run` over the limit's run | <= 1.20 | %s |"
  local OVERHEAD_ROW = "| Judge `--tests`: per-test overhead (the command's wall / tests - the program's own time)"
    .. " | <= 3 ms | %s |"
  local TIMEWALL_ROW = "| Judge `--tests`: meta time-wall - the program's own time, median of the absolute value"
    .. " | <= 2 ms | %s |"
  local function render(path)
    return sh(("lua5.4 %s --render %s"):format(helper.quote(RUN), helper.quote(path)))
  end

  it("below its marker, is what run.lua --render makes of docs/bench.json", function()
    local md = assert(helper.read(helper.root .. "/docs/bench.md"))
    local mark = "<!-- generated by make bench-doc from docs/bench.json: do not edit below -->\n"
    local at = md:find(mark, 1, true)
    assert.truthy(at, "docs/bench.md has no marker line")
    local ok, out = render(helper.root .. "/docs/bench.json")
    assert.is_true(ok, out)
    assert.equal(out, md:sub(at + #mark + 1), "docs/bench.md is stale: run make bench-doc")
  end)

  it("judges each target from the results: met, missed, not measured", function()
    local dir = helper.tmpdir()
    local json = dir .. "/r.json"
    local f = assert(io.open(json, "w"))
    f:write([[{"machine":{"date":"2026-12-03T00:00:00Z","kernel":"6.18","cpu":"x","nproc":2,"lua":"Lua 5.4"},
      "params":{"pairs":2,"warmup":1,"api_pairs":2,"loop":10,"scenarios":["S1","S5"],
                "iso_pause_ms":100,"oci_pause_ms":100},
      "cli":[{"scenario":"S1","tool":"nslua run","ratio":{"median":2,"min":2,"max":2},
              "ms":{"median":10,"min":10,"max":10},"rss_kb":3500},
             {"scenario":"S1","tool":"bwrap","ratio":{"median":1,"min":1,"max":1},
              "ms":{"median":8,"min":8,"max":8},"rss_kb":2500},
             {"scenario":"S1","tool":"bwrap like","ratio":{"median":1,"min":1,"max":1},
              "ms":{"median":8,"min":8,"max":8},"cpu_ms":{"median":4,"min":4,"max":4},"rss_kb":2500},
             {"scenario":"S1","tool":"nslua bwrap","ratio":{"median":1,"min":1,"max":1},
              "ms":{"median":7.6,"min":7,"max":8},"rss_kb":2500}],
      "api":[{"scenario":"S5","tool":"nslua pool","ratio":{"median":1.2,"min":1,"max":1.4},
              "rps":{"median":300,"min":290,"max":310}}],
      "iso":[],"oci":[],"leftovers":[],"appeared":[],"seconds":1}]])
    f:close()
    local ok, out = render(json)
    helper.rmtree(dir)
    assert.is_true(ok, out)
    local row = "| CLI %s: `nslua run` wall time over bwrap's, the same sandbox (bwrap like) | <= 1.10 | %s |"
    assert.matches(row:format("S1", "1.25 (10.00 / 8.00 ms) | missed"), out, 1, true)
    assert.matches(row:format("S2", "not measured | not measured"), out, 1, true)
    -- the CPU target: nslua run's row has no CPU time in this JSON
    row = "| CLI %s: `nslua run` CPU time over bwrap's, the same sandbox (bwrap like) | <= 2.00 | %s |"
    assert.matches(row:format("S1", "not measured | not measured"), out, 1, true)
    row = "| bwrap front end %s: `nslua bwrap` wall time over bwrap's, the same command line (issue 13)"
      .. " | <= 1.00 | %s |"
    assert.matches(row:format("S1", "0.95 (7.60 / 8.00 ms) | met"), out, 1, true)
    assert.matches(row:format("S3", "not measured | not measured"), out, 1, true)
    assert.matches("| S1 | bwrap like | 1.00 | 1.00-1.00 | 8.00 | 4.00 | 2500 |", out, 1, true)
    assert.matches("| CLI peak RSS of `nslua run` (S1) | < 4096 KiB | 3500 KiB | met |", out, 1, true)
    assert.matches("| Pool S5: runs/s over the limit loop's | >= 1.00 (stretch 1.50) | 1.20 | met |", out, 1, true)
    assert.matches("| S1 | nslua run | 2.00 | 2.00-2.00 | 10.00 |  | 3500 |", out, 1, true)
    assert.matches("| isolate's cycle (`--init`, `--run`, `--cleanup`): `nslua isolate` over real isolate"
      .. " (issue 14) | <= 1.00 | not measured | not measured |", out, 1, true)
    assert.matches("| Pool memory: VmRSS growth over a pool's 1000 runs (MEM: the first run to the last)"
      .. " | < 256 KiB | not measured | not measured |", out, 1, true)
    -- a run without JUDGE and S5I (an older JSON): their targets are not measured
    assert.matches(S5I_ROW:format("not measured | not measured"), out, 1, true)
    assert.matches(OVERHEAD_ROW:format("not measured | not measured"), out, 1, true)
    assert.matches(TIMEWALL_ROW:format("not measured | not measured"), out, 1, true)
    assert.not_matches("JUDGE", out, 1, true)
  end)

  it("judges the judge's and S5I's targets and prints their rows", function()
    local dir = helper.tmpdir()
    local json = dir .. "/r.json"
    local function sum(m, lo, hi) return ('{"median":%s,"min":%s,"max":%s,"n":2}'):format(m, lo, hi) end
    local f = assert(io.open(json, "w"))
    f:write(([[{"machine":{"date":"2026-12-04T00:00:00Z","kernel":"6.18","cpu":"x","nproc":2,"lua":"Lua 5.4"},
      "params":{"pairs":2,"warmup":1,"api_pairs":2,"loop":10,"scenarios":["JUDGE","S5I"],
                "iso_pause_ms":100,"oci_pause_ms":100},
      "cli":[{"scenario":"S5I","tool":"limit","baseline":true,"ms":%s},
             {"scenario":"S5I","tool":"nslua run","ratio":%s,"ms":%s}],
      "judge":{"tests":20,"program":{"ms":50,"bytes":1048576},"rows":[
        {"scenario":"JUDGE","tool":"nslua judge --tests","wall_ms":%s,"overhead_ms":%s,"own_ms":%s,
         "timewall_ms":%s,"timewall_abs_ms":%s,"gap_ms":%s,"startup_ms":%s,"tail_ms":%s,"below":3,"n":40},
        {"scenario":"JUDGE","tool":"nslua judge","wall_ms":%s,"overhead_ms":%s,"own_ms":%s,
         "timewall_ms":%s,"timewall_abs_ms":%s,"startup_ms":%s,"tail_ms":%s,"below":0,"n":2}]},
      "api":[],"oci":[],"leftovers":[],"appeared":[],"seconds":1,
      "iso":[{"scenario":"ISO","tool":"isolate","ms":{"cycle":{"median":10,"min":9,"max":11}}},
             {"scenario":"ISO","tool":"nslua isolate","ms":{"cycle":{"median":9.5,"min":9,"max":11}}}],
      "mem":{"runs":1000,"warm":100,"rss_kb":{"first":5150,"warm":5200,"last":5300},
             "heap_kb":{"warm":690,"last":692}}}]]):format(
      sum(10, 9, 11), sum(1.1, 1, 1.3), sum(11, 10, 12),
      sum(52.5, 52, 53), sum(2.5, 2, 3), sum(50, 50, 50.2), sum(-1.5, -2.5, 0.5), sum(1.5, 0, 2.5),
      sum(2, 1.5, 4), sum(30, 28, 32), sum(5, 4, 6),
      sum(60, 59, 61), sum(10, 9, 11), sum(50, 50, 50.1), sum(0.5, 0.4, 0.6), sum(3, 2.5, 3.5),
      sum(20, 19, 21), sum(4, 3, 5)))
    f:close()
    local ok, out = render(json)
    helper.rmtree(dir)
    assert.is_true(ok, out)
    assert.matches(S5I_ROW:format("1.10 (11.00 / 10.00 ms) | met"), out, 1, true)
    assert.matches(OVERHEAD_ROW:format("2.50 ms (between tests 2.00 ms) | met"), out, 1, true)
    assert.matches(TIMEWALL_ROW:format("1.50 ms (max 2.50 ms) | met"), out, 1, true)
    assert.matches("\n| S5I | limit | 1.00 |  | 10.00 |  |  |\n| S5I | nslua run | 1.10 | 1.00-1.30 | 11.00 |  |  |\n",
      out, 1, true)
    assert.matches("| JUDGE | nslua judge --tests | 52.50 (52.00-53.00) | 2.50 (2.00-3.00) | 50.00 (50.00-50.20)"
      .. " | -1.50 (-2.50 to +0.50) |", out, 1, true)
    assert.matches("| JUDGE | nslua judge | 60.00 (59.00-61.00) | 10.00 (9.00-11.00) | 50.00 (50.00-50.10)"
      .. " | +0.50 (+0.40 to +0.60) |", out, 1, true)
    assert.matches("time-wall below the program's own time in 3 of 40 tests", out, 1, true)
    assert.matches("(issue 14) | <= 1.00 | 0.95 (9.50 / 10.00 ms) | met |", out, 1, true)
    assert.matches("(MEM: the first run to the last) | < 256 KiB | +150 KiB (+100 KiB after run 100;"
      .. " Lua heap 690 -> 692 KiB) | met |", out, 1, true)
    assert.matches("VmRSS 5150 KiB, 5200 KiB, 5300 KiB: +150 KiB from the first run, +100 KiB from run 100", out, 1,
      true)
  end)

  it("misses the judge's and S5I's targets beyond their bounds", function()
    local dir = helper.tmpdir()
    local json = dir .. "/r.json"
    local f = assert(io.open(json, "w"))
    f:write([[{"machine":{"date":"2026-12-04T00:00:00Z","kernel":"6.18","cpu":"x","nproc":2,"lua":"Lua 5.4"},
      "params":{"pairs":1,"warmup":0,"scenarios":["JUDGE","S5I"]},
      "cli":[{"scenario":"S5I","tool":"limit","baseline":true,"ms":{"median":10,"min":10,"max":10}},
             {"scenario":"S5I","tool":"nslua run","ratio":{"median":2,"min":2,"max":2},
              "ms":{"median":20,"min":20,"max":20}}],
      "judge":{"tests":20,"rows":[{"tool":"nslua judge --tests","overhead_ms":{"median":20,"min":20,"max":20},
        "timewall_abs_ms":{"median":2.5,"min":2.5,"max":2.5}},
        {"tool":"nslua judge","missing":"exit 125: no"}]},
      "iso":[{"scenario":"ISO","tool":"isolate","ms":{"cycle":{"median":10,"min":9,"max":11}}},
             {"scenario":"ISO","tool":"nslua isolate","ms":{"cycle":{"median":14,"min":13,"max":15}}}],
      "mem":{"runs":1000,"warm":100,"rss_kb":{"first":4400,"warm":5200,"last":5500},
             "heap_kb":{"warm":690,"last":900}}}]])
    f:close()
    local ok, out = render(json)
    helper.rmtree(dir)
    assert.is_true(ok, out)
    assert.matches(S5I_ROW:format("2.00 (20.00 / 10.00 ms) | missed"), out, 1, true)
    assert.matches(OVERHEAD_ROW:format("20.00 ms (between tests ? ms) | missed"), out, 1, true)
    assert.matches(TIMEWALL_ROW:format("2.50 ms (max 2.50 ms) | missed"), out, 1, true)
    assert.matches("| JUDGE | nslua judge | missing: exit 125: no |", out, 1, true)
    assert.matches("(issue 14) | <= 1.00 | 1.40 (14.00 / 10.00 ms) | missed |", out, 1, true)
    assert.matches("(MEM: the first run to the last) | < 256 KiB | +1100 KiB (+300 KiB after run 100;"
      .. " Lua heap 690 -> 900 KiB) | missed |", out, 1, true)
  end)
end)
