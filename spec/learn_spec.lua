-- spec/learn_spec.lua: nslua.learn (the recorder's pieces, the learned
-- profile) and `nslua learn` end to end: a shell script, a python3
-- program and a compiled C program are learned, run under their recipes,
-- and a variant that does one more thing is refused with a message naming
-- the recipe's line.
local helper = require "helper"
local learn = require "nslua.learn"
local seccomp = require "nslua.seccomp"

local q = helper.quote

-- The line 'n' of a file.
local function line_of(path, n)
  local i = 0
  for l in io.lines(path) do
    i = i + 1
    if i == n then return l end
  end
end

-- The rule a message names ("(FILE:LINE)"): that line of the recipe.
local function named_line(out, recipe)
  local file, n = out:match("%((" .. recipe:gsub("%p", "%%%0") .. "):(%d+)%)")
  assert.is_not_nil(file, "no (RECIPE:LINE) in: " .. out)
  return line_of(recipe, tonumber(n))
end

local function landlock_abi()
  local ok, core = pcall(require, "nslua.core")
  if not ok or not core.landlock or not core.landlock.abi then return nil end
  return core.landlock.abi()
end

describe("nslua.learn", function()
  it("reads an ELF program interpreter and a script's #! line", function()
    local f = assert(io.open("/bin/sh", "rb"))
    local s = f:read(4096)
    f:close()
    local interp = learn.interpreter(s)
    assert.is_string(interp)
    assert.matches("^/lib", interp)
    assert.equals("/usr/bin/env", learn.interpreter("#! /usr/bin/env python3\n"))
    assert.is_nil(learn.interpreter("plain text"))
    assert.is_nil(learn.interpreter(nil))
  end)

  it("collapses 3 entries of one directory into it, never a broad one", function()
    local set = {}
    for _, p in ipairs { "/opt/a/1", "/opt/a/2", "/opt/a/3", "/opt/b", "/usr/x", "/usr/y", "/usr/z",
                         "/proc/12/maps", "/proc/self/status", "/dev/null" } do
      set[p] = { n = 1, why = {} }
    end
    local out = learn.collapse(set)
    local paths = {}
    for _, it in ipairs(out) do paths[#paths + 1] = it.path end
    assert.same({ "/dev/null", "/opt/a", "/opt/b", "/proc", "/usr/x", "/usr/y", "/usr/z" }, paths)
    assert.equals(3, out[2].files)
  end)

  it("answers as the base profile does for a name", function()
    local v = learn.verdicts(seccomp.profiles.default)
    assert.equals("allow", learn.verdict(v, "read", 0))
    assert.equals("allow", learn.verdict(v, "ioctl", 16))          -- conditional: allowed
    assert.equals(require("nslua.core").errno.ENOSYS, learn.verdict(v, "clone3", 435))
    assert.equals(require("nslua.core").errno.EPERM, learn.verdict(v, "mount", 165))
    assert.equals(require("nslua.core").errno.ENOSYS, learn.verdict(v, nil, 999))
  end)

  it("keeps the base's rules, arguments included, for the learned names only", function()
    local function deny() return false end
    local p = learn.profile { base = "default", allow = { "read", "ioctl", "clone3", "openat" },
                              denied = deny, explain = { openat = deny, ioctl = deny } }
    assert.is_true(seccomp.validate(p))
    assert.is_function(p.default)
    local ioctl, read, clone3, openat = 0, false, nil, nil
    for _, e in ipairs(p.syscalls) do
      for _, n in ipairs(e.names or { e.name }) do
        assert.is_true(n == "read" or n == "ioctl" or n == "clone3" or n == "openat", n)
        if n == "ioctl" then
          ioctl = ioctl + 1
          assert.is_table(e.args)                 -- TIOCSTI stays refused
          assert.equals("allow", e.action)        -- conditional: never a handler
        end
        if n == "read" then read = e.action == "allow" end
        if n == "clone3" then clone3 = e.action end
        if n == "openat" then openat = e.action end
      end
    end
    assert.is_true(ioctl > 1)
    assert.is_true(read)
    assert.equals("enosys", clone3)
    assert.equals(deny, openat)
    assert.equals("enosys", p.unknown_above)
  end)

  it("sends the arguments the rules do not match to the base's default", function()
    local why = {}
    local function deny(req, w) why[req.syscall] = w or "name"; return false end
    local p = learn.profile { base = "default", allow = { "ioctl", "read" }, denied = deny }
    assert.is_false(p.default { syscall = "ioctl" })
    assert.is_false(p.default { syscall = "mkdir" })
    assert.same({ ioctl = "arguments", mkdir = "name" }, why)
    -- isolate's fcntl rules refuse some commands; its default allows the rest
    local pi = learn.profile { base = "isolate", allow = { "fcntl" }, denied = deny }
    assert.is_true(pi.default { syscall = "fcntl" })
    assert.is_false(pi.default { syscall = "flock" })
  end)

  it("writes a spec as Lua that reads back the same", function()
    local t = { hostname = "h", mounts = { { type = "bind", source = "/a b", target = "/x", ro = true } },
                limits = { rlimits = { core = 0 } }, ["not-ident"] = 1, ["end"] = "k\n" }
    local back = load("return " .. learn.serialize(t))()
    assert.same(t, back)
    assert.has_error(function() learn.serialize({ f = print }) end)
  end)
end)

describe("nslua learn", function()
  local tracker, dir

  before_each(function()
    tracker = helper.track()
    dir = helper.tmpdir("0755")
  end)

  after_each(function()
    helper.rmtree(dir)
    assert.is_false(helper.exists(dir))
    helper.assert_released(tracker)
  end)

  local function write(name, text, mode)
    local f = assert(io.open(dir .. "/" .. name, "w"))
    f:write(text)
    f:close()
    if mode then os.execute(("chmod %s %s"):format(mode, q(dir .. "/" .. name))) end
  end

  -- learn CMD with run's options; the recipe's path
  local function learned(opts, cmd)
    local recipe = dir .. "/recipe.lua"
    local ok, out = helper.sh(("%s learn -o %s %s -- %s"):format(helper.nslua, q(recipe), opts, cmd))
    assert.is_true(ok, out)
    assert.matches("learn: wrote", out)
    return recipe, out
  end

  local function under(recipe, cmd)
    return helper.sh(("%s %s%s"):format(helper.nslua, q(recipe), cmd and (" -- " .. cmd) or ""))
  end

  it("answers --help and refuses bad input with 125, writing nothing", function()
    local ok, out = helper.sh(helper.nslua .. " learn --help")
    assert.is_true(ok, out)
    assert.matches("%-o", out)
    assert.matches("%-%-ro%-bind", out)
    local _, out2, code = helper.sh(helper.nslua .. " learn -o " .. q(dir .. "/r.lua"))
    assert.equals(125, code)
    assert.matches("missing command", out2)
    assert.is_false(helper.exists(dir .. "/r.lua"))
    local _, out3, code3 = helper.sh(helper.nslua .. " learn -o")
    assert.equals(125, code3)
    assert.matches("%-o: takes an argument", out3)
    local _, out4, code4 = helper.sh(helper.nslua .. " learn --seccomp nosuch -- /bin/true")
    assert.equals(125, code4)
    assert.matches("nosuch", out4)
    local _, _, code5 = helper.sh(helper.nslua .. " learn -o /nonexistent/dir/r.lua -- /bin/true")
    assert.equals(125, code5)
    local _, out6, code6 = helper.sh(helper.nslua .. " learn -o " .. q(dir .. "/r.lua") .. " -- /nonexistent")
    assert.equals(127, code6, out6)
    assert.is_false(helper.exists(dir .. "/r.lua"))
  end)

  it("prints the recipe on stdout without -o, the command's stdout on stderr", function()
    local err = dir .. "/stderr"
    local ok, out = helper.sh(("%s learn -- /bin/echo noise 2>%s"):format(helper.nslua, q(err)))
    assert.is_true(ok, out)
    assert.matches("local SYSCALLS = {", out)
    assert.matches('"execve", %-%- 1 call', out)
    assert.not_matches("\nnoise", out)
    assert.truthy(load(out, "=recipe", "t"))
    assert.equals("noise\n", helper.read(err))
  end)

  it("learns a shell script; a write elsewhere is refused, naming landlock.write", function()
    if not landlock_abi() then return pending("no Landlock on this kernel") end
    write("in.txt", "input\n")
    write("job.sh", [[
cat /data/in.txt > /out/result
ls /data > /dev/null
echo "result: $(cat /out/result)"
if [ "$1" = more ]; then echo x > /scratch/y && echo wrote-scratch; fi
exit 0
]])
    local opts = ("--ro-bind %s /data --tmpfs /out --tmpfs /scratch"):format(q(dir))
    local recipe = learned(opts, "/bin/sh /data/job.sh")
    local text = helper.read(recipe)
    assert.matches('"/out", %-%- [^\n]*created /out/result', text)
    assert.matches("landlock = landlock", text)
    local ok, out = under(recipe)
    assert.is_true(ok, out)
    assert.matches("result: input", out)
    assert.not_matches("nslua learn:", out)
    local _, vout = under(recipe, "/bin/sh /data/job.sh more")
    assert.not_matches("wrote%-scratch", vout)
    assert.matches("Permission denied", vout)
    assert.matches("write to /scratch/y: refused, not beneath landlock.write", vout)
    assert.matches("^%s*write = {", named_line(vout, recipe))
  end)

  it("learns a python3 program; a connect to another port is refused, naming landlock.connect", function()
    local abi = landlock_abi()
    if not abi or abi < 4 then return pending("Landlock TCP rules need ABI 4") end
    if not helper.sh("command -v python3 >/dev/null") then return pending("no python3") end
    write("net.py", [[
import socket, sys
servers = []
for port in (18001, 18002):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(1)
    servers.append(s)
port = 18002 if sys.argv[1:] == ["more"] else 18001
try:
    c = socket.create_connection(("127.0.0.1", port))
except OSError as e:
    print("connect failed:", e.strerror)
    sys.exit(3)
a, _ = servers[port - 18001].accept()
c.sendall(b"ping")
print("got", a.recv(4).decode(), "on", port)
]])
    local recipe = learned(("--ro-bind %s /data"):format(q(dir)), "python3 /data/net.py")
    local text = helper.read(recipe)
    assert.matches("18001, %-%- connected 1 time: 127%.0%.0%.1", text)
    assert.matches("18002, %-%- bound", text)
    local ok, out = under(recipe)
    assert.is_true(ok, out)
    assert.matches("got ping on 18001", out)
    assert.not_matches("nslua learn:", out)
    local vok, vout, vcode = under(recipe, "python3 /data/net.py more")
    assert.is_false(vok)
    assert.equals(3, vcode)
    assert.matches("connect failed: Permission denied", vout)
    assert.matches("connect to 127%.0%.0%.1 port 18002: refused, not in landlock%.connect", vout)
    assert.matches("^%s*connect = {", named_line(vout, recipe))
  end)

  it("learns a compiled C program; a new syscall is refused, naming the list", function()
    if not helper.sh("command -v gcc >/dev/null") then return pending("no gcc") end
    write("prog.c", [[
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
int main (int argc, char **argv) {
  FILE *f = fopen("/out/c.txt", "w");
  if (f == NULL) { perror("fopen"); return 2; }
  fprintf(f, "hello\n");
  fclose(f);
  if (argc > 1 && strcmp(argv[1], "more") == 0 && sched_yield() != 0) {
    printf("sched_yield: %s\n", strerror(errno));
    return 4;
  }
  printf("c ok\n");
  return 0;
}
]])
    local okc, cout = helper.sh(("gcc -O2 -o %s %s"):format(q(dir .. "/prog"), q(dir .. "/prog.c")))
    assert.is_true(okc, cout)
    local recipe = learned(("--ro-bind %s /data --tmpfs /out"):format(q(dir)), "/data/prog")
    local text = helper.read(recipe)
    assert.not_matches('"sched_yield"', text)
    assert.matches('"/data/prog", %-%- [^\n]*executed', text)
    local ok, out = under(recipe)
    assert.is_true(ok, out)
    assert.matches("c ok", out)
    assert.not_matches("nslua learn:", out)
    local _, vout, vcode = under(recipe, "/data/prog more")
    assert.equals(4, vcode)
    assert.matches("sched_yield: Operation not permitted", vout)
    assert.matches("denied sched_yield: not in the learned list", vout)
    assert.matches("^local SYSCALLS = {", named_line(vout, recipe))
  end)

  it("a program the recipe never executed is refused, naming landlock.exec", function()
    if not landlock_abi() then return pending("no Landlock on this kernel") end
    local recipe = learned("", "/bin/true")
    local ok, out, code = under(recipe, "/bin/sh -c 'echo hi'")
    assert.is_false(ok)
    assert.equals(126, code)
    assert.matches("exec of /bin/sh: refused, not beneath landlock.exec", out)
    assert.matches("^%s*exec = {", named_line(out, recipe))
  end)

  it("learns rootless: the exec tail's program is found from argv[0]", function()
    if not landlock_abi() then return pending("no Landlock on this kernel") end
    local sub = dir .. "/rl"
    assert.is_true(helper.sh(("mkdir %s && chmod 0777 %s"):format(q(sub), q(sub))))
    local recipe = sub .. "/recipe.lua"
    local nslua = helper.rootless_nslua()
    local ok, out = helper.sh(("%s learn -o %s -- sh -c 'echo hi > /tmp/a; cat /tmp/a'"):format(nslua, q(recipe)))
    assert.is_true(ok, out)
    local text = helper.read(recipe)
    assert.matches('"/usr/bin/sh", %-%- 1 exec; executed', text)
    assert.matches("the interpreter of /usr/bin/sh", text)
    local ok2, out2 = helper.sh(("%s %s"):format(nslua, q(recipe)))
    assert.is_true(ok2, out2)
    assert.matches("^hi\n$", out2)
    local _, out3 = helper.sh(("%s %s -- /bin/sh -c 'echo > /dev/shm/x'"):format(nslua, q(recipe)))
    assert.matches("write to /dev/shm/x: refused, not beneath landlock.write", out3)
    assert.matches("^%s*write = {", named_line(out3, recipe))
  end)

  it("writes a recipe of a run that reached a limit, saying which", function()
    local recipe = dir .. "/recipe.lua"
    local _, out, code = helper.sh(("%s learn -o %s --wall 1 -- /bin/sleep 5"):format(helper.nslua, q(recipe)))
    assert.equals(137, code, out)
    local text = helper.read(recipe)
    assert.matches("The run ended at a limit %(wall%-limit%)", text)
    assert.matches("wall = 1", text)
    assert.matches('"clock_nanosleep", %-%- 1 call', text)
  end)

  it("never lets a recorded name become code in the recipe (newlines in paths)", function()
    local mark = dir .. "/INJECTED"
    local cmd = ([[/bin/sh -c 'touch "/tmp/a
os.execute(\"touch %s\")
--"; mkdir "/tmp/b\rx=os.execute(\"touch %s\") --"; true']]):format(mark, mark)
    local recipe = learned("", cmd)
    local chunk = assert(loadfile(recipe, "t"))
    pcall(chunk)
    assert.is_false(helper.exists(mark))
    assert.matches("\\010os.execute", helper.read(recipe))
  end)
end)
