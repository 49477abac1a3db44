-- nslua judge --tests DIR: per-test stderr, answers, a checker, an
-- interactor, the summary line and the JSON document.  Programs, checkers
-- and interactors are small python3 and sh scripts in a 0755 temp dir (the
-- judge binds each one read-only at its host path).
local helper = require "helper"
local cjson = require "cjson"

local q = helper.quote

local SCRIPTS = {
  -- a + b, but 7 * b when a is 7 (a wrong answer); a note on stderr
  ["sum.py"] = [[
#!/usr/bin/python3
import sys
a, b = map(int, sys.stdin.read().split())
print("note", a, b, file=sys.stderr)
print(a * b if a == 7 else a + b)
]],
  -- testlib's convention: input output answer; 0 OK, 1 WA; the message on stderr
  ["check.py"] = [[
#!/usr/bin/python3
import sys
i, o, a = sys.argv[1:4]
x, y = open(o).read().split(), open(a).read().split()
if x == y:
    print("ok", " ".join(x), file=sys.stderr)
    sys.exit(0)
print("wrong answer: expected", " ".join(y), "found", " ".join(x), file=sys.stderr)
sys.exit(1)
]],
  ["check-crash.sh"] = "#!/bin/sh\necho about to crash >&2\nkill -SEGV $$\n",
  ["check-exit3.sh"] = "#!/bin/sh\necho internal error >&2\nexit 3\n",
  -- guess the number in 1..1000: the interactor reads N from the input,
  -- answers < > =, writes the number of guesses to the output, exits 1
  -- at EOF or at a wrong 20th guess (which gets no answer: the program
  -- then sees EOF, never a broken pipe)
  ["interact.py"] = [[
#!/usr/bin/python3
import sys
n = int(open(sys.argv[1]).read())
out = open(sys.argv[2], "w")
for k in range(1, 21):
    line = sys.stdin.readline()
    if not line:
        print("unexpected end of input", file=sys.stderr)
        sys.exit(1)
    g = int(line)
    if g == n:
        print("=", flush=True)
        out.write("%d\n" % k)
        print("ok guessed in", k, file=sys.stderr)
        sys.exit(0)
    if k == 20:
        break
    print("<" if n < g else ">", flush=True)
print("too many guesses", file=sys.stderr)
sys.exit(1)
]],
  ["bisect.py"] = [[
#!/usr/bin/python3
import sys
lo, hi = 1, 1000
while True:
    m = (lo + hi) // 2
    print(m, flush=True)
    r = sys.stdin.readline().strip()
    if r == "=":
        break
    if r == "<":
        hi = m - 1
    else:
        lo = m + 1
]],
  -- guesses 1, 2, 3, ...: right only for small numbers
  ["linear.py"] = [[
#!/usr/bin/python3
import sys
for g in range(1, 1001):
    print(g, flush=True)
    r = sys.stdin.readline().strip()
    if r == "=" or not r:
        break
]],
  ["exit3.sh"] = "#!/bin/sh\nexit 3\n",
  -- guesses 1 forever without reading: SIGPIPE once the interactor gives up
  ["spam.sh"] = "#!/bin/sh\nwhile :; do echo 1; done\n",
  -- an interactor that never answers, and one that answers and then hangs
  -- (MARK is replaced by a name unique to this run: the leftover check)
  ["hang-early.sh"] = "#!/bin/sh\nexec python3 -c 'import time; time.sleep(1000)' MARK\n",
  ["hang-late.sh"] = "#!/bin/sh\nread x\necho =\nexec python3 -c 'import time; time.sleep(1000)' MARK\n",
}

local dir
local mark = helper.unique("judgetests")

-- A tests dir: name -> { input, answer or nil }.
local function make_tests(name, cases)
  local t = dir .. "/" .. name
  helper.rmtree(t)
  assert(helper.sh("mkdir -p " .. q(t)))
  for n, c in pairs(cases) do
    local f = assert(io.open(t .. "/" .. n .. ".in", "w"))
    f:write(c[1], "\n")
    f:close()
    if c[2] then
      f = assert(io.open(t .. "/" .. n .. ".ans", "w"))
      f:write(c[2], "\n")
      f:close()
    end
  end
  return t
end

-- `nslua judge --tests DIR OPTS -- PROG`: rc, stderr text, JSON document.
local function judge_tests(tests, opts, prog)
  local json = tests .. ".json"
  os.remove(json)
  local _, out, rc = helper.sh(("%s judge --tests %s --json %s %s -- %s"):format(helper.nslua, q(tests), q(json),
    opts or "", q(dir .. "/" .. prog)))
  local text = helper.read(json)
  return rc, out, text and cjson.decode(text)
end

local function by_name(doc)
  local t = {}
  for _, r in ipairs(doc.tests) do t[r.name] = r end
  return t
end

-- processes of this run's hanging interactors still alive
local function hangers()
  local _, out = helper.sh("ps -eo args= | grep -F " .. q(mark) .. " | grep -v grep || true")
  return out
end

describe("nslua judge --tests #priv", function()
  local tracker

  setup(function()
    if not helper.is_root() then return end
    dir = helper.tmpdir("0755")
    for name, text in pairs(SCRIPTS) do
      local f = assert(io.open(dir .. "/" .. name, "w"))
      f:write((text:gsub("MARK", mark)))
      f:close()
    end
    os.execute("chmod -R a+rX " .. q(dir) .. " && chmod 0755 " .. q(dir) .. "/*.py " .. q(dir) .. "/*.sh")
  end)

  teardown(function()
    if dir then
      helper.rmtree(dir)
      assert.is_false(helper.exists(dir), "temp dir left behind")
    end
  end)

  before_each(function()
    if not helper.is_root() then return pending("needs root (a pool)") end
    tracker = helper.track()
  end)
  after_each(function()
    if tracker then helper.assert_released(tracker) end
    tracker = nil
    assert.equal("", hangers())
  end)

  it("a checker: OK, WA, per-test .err, .check, the summary line and the JSON", function()
    local t = make_tests("sums", { a = { "1 2", "3" }, b = { "7 3", "10" }, c = { "4 4", "8" } })
    -- the checker reads them through idmapped binds: owner-only files do
    assert(helper.sh(("chmod 0600 %s/*.in %s/*.ans"):format(q(t), q(t))))
    local rc, out, doc = judge_tests(t, "--time 2 --checker " .. q(dir .. "/check.py"), "sum.py")
    assert.equal(1, rc, out)
    assert.matches("a: OK", out, 1, true)
    assert.matches("b: WA checker: wrong answer: expected 10 found 21", out, 1, true)
    assert.matches("c: OK", out, 1, true)
    assert.matches("tests: 3, OK 2, WA 1 %(max time %d+%.%d%d%d s, max memory %d+ KiB%)\n$", out)
    -- the program's files, and the checker's messages
    assert.equal("note 1 2\n", helper.read(t .. "/a.err"))
    assert.equal("note 7 3\n", helper.read(t .. "/b.err"))
    assert.equal("21\n", helper.read(t .. "/b.out"))
    assert.equal("ok 3\n", helper.read(t .. "/a.check"))
    assert.matches("^wrong answer", helper.read(t .. "/b.check"))
    -- the meta-file is the program's run: OK even where the checker said WA
    assert.matches("verdict:OK", helper.read(t .. "/b.meta"), 1, true)
    -- the JSON document
    assert.is_table(doc, out)
    assert.equal(3, #doc.tests)
    assert.same({ "a", "b", "c" }, { doc.tests[1].name, doc.tests[2].name, doc.tests[3].name })
    local r = by_name(doc)
    assert.equal("OK", r.a.verdict)
    assert.equal("ok 3", r.a.checker_message)
    assert.equal("WA", r.b.verdict)
    assert.equal("OK", r.b.run_verdict)
    assert.equal(0, r.b.exitcode)
    assert.equal("checker: wrong answer: expected 10 found 21", r.b.message)
    assert.is_number(r.c.time)
    assert.is_number(r.c.wall)
    assert.is_number(r.c.memory)
    assert.equal(3, doc.totals.tests)
    assert.equal(2, doc.totals.OK)
    assert.equal(1, doc.totals.WA)
    assert.equal(0, doc.totals.XX)
    assert.is_number(doc.totals.max_time)
    assert.is_true(doc.totals.max_memory > 0)
    helper.rmtree(t)
  end)

  it("shows the test under way on a terminal, and nothing of it when piped", function()
    local t = make_tests("tty", { a = { "1 2", "3" }, b = { "7 3", "10" } })
    -- script(1) gives the run a pty for stdout and stderr
    local cmd = ("%s judge --tests %s -- %s"):format(helper.nslua, q(t), q(dir .. "/sum.py"))
    -- (sum.py gets b wrong: WA, exit 1)
    local _, out = helper.sh(("script -qec %s /dev/null"):format(q(cmd)))
    assert.matches("\r\27%[Knslua judge: test 1/2 a\r\27%[Ka: OK", out)
    assert.matches("\r\27%[Knslua judge: test 2/2 b\r\27%[Kb: WA", out)
    local _, piped, rc = helper.sh(cmd)
    assert.equal(1, rc, piped)
    assert.matches("^a: OK[^\n]*\nb: WA[^\n]*\ntests: 2, OK 1, WA 1", piped)
    assert.is_nil(piped:find("\27", 1, true), piped)
    helper.rmtree(t)
  end)

  it("a checker that crashes or exits 3 is XX (exit 125, or 2 like isolate)", function()
    local t = make_tests("crash", { a = { "1 2", "3" } })
    local rc, out, doc = judge_tests(t, "--checker " .. q(dir .. "/check-crash.sh"), "sum.py")
    assert.equal(125, rc, out)
    assert.matches("a: XX checker failed: signal 11", out, 1, true)
    assert.matches("tests: 1, XX 1 ", out, 1, true)
    assert.equal("XX", doc.tests[1].verdict)
    assert.equal("about to crash\n", helper.read(t .. "/a.check"))
    rc, out = judge_tests(t, "--isolate-exit-codes --checker " .. q(dir .. "/check-exit3.sh"), "sum.py")
    assert.equal(2, rc, out)
    assert.matches("a: XX checker failed: exit 3", out, 1, true)
    helper.rmtree(t)
  end)

  it("without a checker: answers compared token by token; no answer, no comparison", function()
    local t = make_tests("cmp", { a = { "1 2", "  3  " }, b = { "7 3", "10" }, c = { "2 2" } })
    local rc, out, doc = judge_tests(t, "", "sum.py")
    assert.equal(1, rc, out)
    local r = by_name(doc)
    assert.equal("OK", r.a.verdict)
    assert.equal("WA", r.b.verdict)
    assert.equal("token 1: expected '10', found '21'", r.b.message)
    assert.equal("OK", r.c.verdict)
    -- --stderr-to-stdout: the notes go to NAME.out, no NAME.err
    assert(helper.sh("rm -f " .. q(t) .. "/*.err"))
    rc, out = judge_tests(t, "--stderr-to-stdout", "sum.py")
    assert.equal(1, rc, out)
    assert.equal("note 2 2\n4\n", helper.read(t .. "/c.out"))
    assert.is_nil(helper.read(t .. "/c.err"))
    -- an explicit --stderr FILE: every test writes it, the last one's stays
    rc, out = judge_tests(t, "--stderr " .. q(t .. "/all.stderr"), "sum.py")
    assert.equal(1, rc, out)
    assert.equal("note 2 2\n", helper.read(t .. "/all.stderr"))
    assert.is_nil(helper.read(t .. "/a.err"))
    helper.rmtree(t)
  end)

  it("an interactor over pipes: OK, WA, and a checker of its output", function()
    local t = make_tests("guess", { a = { "7", "7" }, b = { "999" } })
    local rc, out, doc = judge_tests(t, "--time 2 --interactor " .. q(dir .. "/interact.py"), "bisect.py")
    assert.equal(0, rc, out)
    assert.matches("tests: 2, OK 2 ", out, 1, true)
    assert.equal("7\n", helper.read(t .. "/a.out"))   -- the interactor's output file
    assert.equal("ok guessed in 7\n", helper.read(t .. "/a.interactor"))
    assert.equal("ok guessed in 7", by_name(doc).a.interactor_message)
    -- linear guessing: 20 guesses are enough for 7, not for 999
    rc, out, doc = judge_tests(t, "--time 2 --interactor " .. q(dir .. "/interact.py"), "linear.py")
    assert.equal(1, rc, out)
    local r = by_name(doc)
    assert.equal("WA", r.b.verdict)
    assert.equal("interactor: too many guesses", r.b.message)
    -- linear also takes 7 guesses for 7: the interactor's output matches the answer
    assert.equal("OK", r.a.verdict, out)
    -- a program that keeps writing after the interactor's WA dies of SIGPIPE: WA
    rc, out, doc = judge_tests(t, "--time 2 --interactor " .. q(dir .. "/interact.py"), "spam.sh")
    assert.equal(1, rc, out)
    r = by_name(doc)
    assert.equal("WA", r.a.verdict, out)
    assert.equal("SG", r.a.run_verdict, out)
    assert.equal(13, r.a.exitsig, out)
    assert.equal("interactor: too many guesses", r.a.message)
    -- a program that fails first keeps its verdict, whatever the interactor says
    rc, out, doc = judge_tests(t, "--time 2 --interactor " .. q(dir .. "/interact.py"), "exit3.sh")
    assert.equal(1, rc, out)
    r = by_name(doc)
    assert.equal("RE", r.a.verdict, out)
    assert.equal(3, r.a.exitcode, out)
    rc, out, doc = judge_tests(t, "--time 2 --interactor " .. q(dir .. "/interact.py")
      .. " --checker " .. q(dir .. "/check.py"), "bisect.py")
    assert.equal(0, rc, out)
    assert.equal("ok 7", by_name(doc).a.checker_message)
    helper.rmtree(t)
  end)

  it("an interactor that hangs: the wall limits end both, nothing is left", function()
    local t = make_tests("hang", { a = { "5" } })
    -- never answers: the program waits for it until its own wall limit (3*0.5+1 s)
    local t0 = os.time()
    local rc, out, doc = judge_tests(t, "--time 0.5 --interactor " .. q(dir .. "/hang-early.sh"), "bisect.py")
    assert.equal(1, rc, out)
    assert.equal("TLE", doc.tests[1].verdict, out)
    assert.matches("wall clock", doc.tests[1].message, 1, true)
    assert.equal("", hangers())
    -- answers, then hangs after the program ended: its own wall limit
    -- (the program's 2.5 s + 2*0.5+1 s), XX
    rc, out, doc = judge_tests(t, "--time 0.5 --checker-time 0.5 --interactor " .. q(dir .. "/hang-late.sh"),
      "bisect.py")
    assert.equal(125, rc, out)
    assert.equal("XX", doc.tests[1].verdict, out)
    assert.equal("OK", doc.tests[1].run_verdict, out)
    assert.matches("interactor failed: Time limit exceeded (wall clock)", doc.tests[1].message, 1, true)
    assert.is_true(os.time() - t0 < 30, "the hangs took too long")
    helper.rmtree(t)
  end)

  it("usage: the new options need --tests; --interactor excludes --stderr-to-stdout", function()
    for _, case in ipairs {
      { "--checker /bin/true -- /bin/true", "--checker needs --tests" },
      { "--json - -- /bin/true", "--json needs --tests" },
      { "--interactor /bin/true -- /bin/true", "--interactor needs --tests" },
      { "--tests /tmp --interactor /bin/true --stderr-to-stdout -- /bin/true", "--interactor excludes" },
      { "--tests /tmp --checker-time lots -- /bin/true", "--checker-time" },
    } do
      local _, out, rc = helper.sh(("%s judge %s"):format(helper.nslua, case[1]))
      assert.equal(125, rc, out)
      assert.matches(case[2], out, 1, true)
    end
  end)
end)

describe("nslua judge --tests, rootless #priv", function()
  teardown(function()
    helper.cleanup_rootless_tree()
  end)

  it("keeps the pool's error: --tests needs root, with or without a checker", function()
    if not helper.is_root() then return pending("needs root (setpriv to the test user)") end
    local d = helper.tmpdir("0755")
    assert(helper.sh(("echo 1 > %s/a.in && chmod 0644 %s/a.in"):format(q(d), q(d))))
    local _, out, rc = helper.sh(("%s judge --tests %s --checker /bin/true -- /bin/cat")
      :format(helper.rootless_nslua(), q(d)))
    assert.equal(125, rc, out)
    assert.matches("--tests: pool: needs root", out, 1, true)
    assert.is_nil(helper.read(d .. "/a.out"))
    helper.rmtree(d)
  end)
end)

describe("judge.compare_tokens", function()
  local judge = require "nslua.recipes.judge"
  local d

  setup(function() d = helper.tmpdir() end)
  teardown(function() helper.rmtree(d) end)

  local function cmp(out, ans)
    local o, a = d .. "/o", d .. "/a"
    for path, text in pairs { [o] = out, [a] = ans } do
      local f = assert(io.open(path, "w"))
      f:write(text)
      f:close()
    end
    return judge.compare_tokens(o, a)
  end

  it("ignores whitespace, not tokens", function()
    assert.is_true(cmp("1 2\n3\n", "1\t2 3"))
    assert.is_true(cmp("", "\n \n"))
    assert.same({ false, "token 2: expected '2', found '20'" }, { cmp("1 20", "1 2") })
    assert.same({ false, "token 3: expected end of file, found 'x'" }, { cmp("1 2 x", "1 2") })
    assert.same({ false, "token 1: expected 'a', found end of file" }, { cmp("", "a") })
  end)

  it("a file that cannot be read: nil and a message", function()
    local ok, err = judge.compare_tokens(d .. "/missing", d .. "/a")
    assert.is_nil(ok)
    assert.matches("missing", err, 1, true)
  end)
end)
