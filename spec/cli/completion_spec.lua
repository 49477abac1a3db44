-- The shell completions (make completions; nslua.cli.doc) and what
-- `make install` puts in place.
local helper = require "helper"

local q = helper.quote

local function make(args)
  return helper.sh(helper.MAKE .. " " .. args)
end

local function have(cmd) return (helper.sh("command -v " .. cmd)) end

-- A stand-in `nslua` whose `ps --json` lists two containers.
local function fake_nslua(dir)
  local path = dir .. "/nslua"
  local f = assert(io.open(path, "w"))
  f:write("#!/bin/sh\n",
    "[ \"$1 $2\" = 'ps --json' ] && echo '[{\"id\":\"ab12cd34\",\"name\":\"web\"},{\"id\":\"ff00ee11\"}]'\n")
  f:close()
  assert(helper.sh("chmod 0755 " .. q(path)))
  return path
end

describe("make completions", function()
  local root, built, out = helper.root, nil, nil
  local bash_file = root .. "/build/completions/nslua.bash"

  lazy_setup(function()
    built, out = make("completions")
  end)

  -- COMPREPLY of completing the words (the last one the current word)
  local function bash_complete(words, pre)
    local script = ("source %s; COMP_WORDS=(%s); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); %s; "
      .. "printf '%%s\\n' \"${COMPREPLY[@]}\""):format(q(bash_file), words, pre or "_nslua")
    return helper.sh("bash -c " .. q(script))
  end

  it("builds the bash completion, which bash loads for nslua and nslua-oci", function()
    assert.is_true(built, out)
    local ok, text = helper.sh("bash -c " .. q(("source %s; complete -p nslua; complete -p nslua-oci")
      :format(q(bash_file))))
    assert.is_true(ok, text)
    assert.matches("complete %-o default %-F _nslua nslua\n", text)
    assert.matches("_nslua_oci nslua%-oci", text)
  end)

  it("completes subcommands and run's options", function()
    local ok, text = bash_complete("nslua ''")
    assert.is_true(ok, text)
    for _, s in ipairs { "run", "exec", "ps", "oci", "isolate" } do
      assert.truthy(text:find("\n" .. s .. "\n", 1, true) or text:find("^" .. s .. "\n"), s)
    end
    ok, text = bash_complete("nslua tutorial-p")
    assert.is_true(ok, text)
    assert.equal("tutorial-pid\n", text)
    ok, text = bash_complete("nslua run --")
    assert.is_true(ok, text)
    assert.truthy(text:find("\n--bind\n", 1, true), text)
    assert.truthy(text:find("\n--ro-bind\n", 1, true))
    ok, text = bash_complete("nslua run --ro-b")
    assert.is_true(ok, text)
    local got = {}
    for l in text:gmatch("[^\n]+") do got[#got + 1] = l end
    assert.same({ "--ro-bind", "--ro-bind-try", "--ro-bind-fd", "--ro-bind-data" }, got)
    -- after `--`: the command's words, not nslua's options
    ok, text = bash_complete("nslua run -- --b")
    assert.is_true(ok, text)
    assert.equal("\n", text)
  end)

  it("completes nslua exec's TARGET from nslua ps --json", function()
    local dir = helper.tmpdir()
    finally(function() helper.rmtree(dir) end)
    local fake = fake_nslua(dir)
    local ok, text = bash_complete(q(fake) .. " exec ''")
    assert.is_true(ok, text)
    assert.equal("ab12cd34\nweb\nff00ee11\n", text)
    ok, text = bash_complete(q(fake) .. " exec --cwd /x w")
    assert.is_true(ok, text)
    assert.equal("web\n", text)
    -- the command after the target: no container names
    ok, text = bash_complete(q(fake) .. " exec web ''")
    assert.is_true(ok, text)
    assert.equal("\n", text)
  end)

  it("completes nslua-oci's commands and their flags", function()
    local ok, text = bash_complete("nslua-oci kill -", "_nslua_oci")
    assert.is_true(ok, text)
    assert.equal("-a\n--all\n", text)
    ok, text = bash_complete("nslua oci de", "_nslua")
    assert.is_true(ok, text)
    assert.equal("delete\n", text)
  end)

  -- What an interactive zsh (on a pty: zsh/zpty) lists on TAB TAB after
  -- 'line', with compinit loading build/completions/_nslua; 'dir' first in
  -- PATH.  The terminal's escape sequences are removed.
  local function zsh_complete(line, dir)
    local script = table.concat({
      "zmodload zsh/zpty",
      "zpty z 'zsh -f -i'",
      ("zpty -w z \"PATH=%s:\\$PATH; PS1='> '; unset zle_bracketed_paste; fpath=(%s \\$fpath); "
        .. "autoload -U compinit; compinit -u -D; zstyle ':completion:*' list-prompt ''; print READY\"")
        :format(dir, root .. "/build/completions"),
      "zpty -r -m z out '*READY*'",
      ("zpty -w -n z $'%s\\t\\t'"):format(line),
      "sleep 2",
      "all=; while zpty -r -t z out; do all+=$out; done",
      "print -r -- \"$all\"",
      "zpty -d z",
    }, "\n")
    local ok, text = helper.sh("timeout 20 zsh -f -c " .. q(script))
    return ok, (text:gsub("\27%[[%d;?]*%a", ""):gsub("\r", ""))
  end

  it("builds a zsh completion that completes options and exec's TARGET", function()
    assert.is_true(built, out)
    if not have("zsh") then return pending("no zsh here") end
    local ok, text = helper.sh("zsh -n " .. q(root .. "/build/completions/_nslua"))
    assert.is_true(ok, text)
    local dir = helper.tmpdir()
    finally(function() helper.rmtree(dir) end)
    fake_nslua(dir)
    ok, text = zsh_complete("nslua run --ro-b", dir)
    assert.is_true(ok, text)
    assert.matches("%-%-ro%-bind%-try +%-%- Like %-%-ro%-bind, skipped", text)
    ok, text = zsh_complete("nslua exec ", dir)
    assert.is_true(ok, text)
    assert.matches("ab12cd34", text)
    assert.matches("ff00ee11", text)
  end)

  it("builds a fish completion fish runs", function()
    assert.is_true(built, out)
    if not have("fish") then return pending("no fish here") end
    local ok, text = helper.sh("fish -c " .. q(("source %s; complete -C'nslua run --ro-b'")
      :format(q(root .. "/build/completions/nslua.fish"))))
    assert.is_true(ok, text)
    assert.matches("%-%-ro%-bind\tBind SRC on DST read%-only", text)
    -- after `--`: the command's completion, never nslua's options
    ok, text = helper.sh("fish -c " .. q(("source %s; complete -C'nslua run -- sh --ro-b'; echo END")
      :format(q(root .. "/build/completions/nslua.fish"))))
    assert.is_true(ok, text)
    assert.equal("END\n", text)
  end)
end)

describe("make install", function()
  it("puts the man pages and completions under DESTDIR", function()
    if not have("scdoc") then return pending("no scdoc (scripts/deps.sh installs it)") end
    local dir = helper.tmpdir("0755")
    finally(function() helper.rmtree(dir) end)
    local dest = dir .. "/dest"
    -- ISOLATE_OUT: the launcher built for these paths goes here, not build/
    local ok, out = make(("install DESTDIR=%s PREFIX=/usr ISOLATE_OUT=%s"):format(q(dest),
      q(dir .. "/nslua-isolate")))
    assert.is_true(ok, out)
    for _, f in ipairs { "/usr/share/man/man1/nslua.1", "/usr/share/man/man1/nslua-oci.1",
                         "/usr/share/bash-completion/completions/nslua",
                         "/usr/share/bash-completion/completions/nslua-oci",
                         "/usr/share/zsh/vendor-completions/_nslua",
                         "/usr/share/fish/vendor_completions.d/nslua.fish", "/usr/bin/nslua" } do
      assert.is_true(helper.exists(dest .. f), f)
    end
    local _, mode = helper.sh("stat -c %a " .. q(dest .. "/usr/share/man/man1/nslua.1"))
    assert.equal("644\n", mode)
    -- MANDIR moves the pages
    ok, out = make(("install DESTDIR=%s PREFIX=/usr MANDIR=/opt/man ISOLATE_OUT=%s"):format(q(dest),
      q(dir .. "/nslua-isolate")))
    assert.is_true(ok, out)
    assert.is_true(helper.exists(dest .. "/opt/man/nslua-oci.1"))
    helper.rmtree(dir)
    assert.is_false(helper.exists(dir))
  end)
end)
