-- spec/cli/json_spec.lua - every JSON document nslua prints (ps, explain,
-- doctor, gc, the run report) validated against its schema in
-- spec/schemas/ (docs/json.md), from real runs; and the validator
-- (spec/support/jsonschema.lua) itself, so a check that cannot fail is seen.
local helper = require "helper"
local js = require "support.jsonschema"

local N = helper.nslua
local SCHEMAS = helper.root .. "/spec/schemas/"

local function schema(kind)
  return js.load(SCHEMAS .. kind .. ".json")
end

-- Assert that text is one JSON document valid under the schema of 'kind';
-- returns the decoded document.
local function valid(kind, text)
  local ok, doc = pcall(js.decode, text)
  assert(ok, ("%s: not one JSON document: %s\n%s"):format(kind, tostring(doc), text))
  local good, errs = js.validate(schema(kind), doc)
  assert(good, ("%s: invalid:\n  %s\n%s"):format(kind, table.concat(errs or {}, "\n  "), text:sub(1, 2000)))
  return doc
end

local function invalid(kind, text)
  local good = js.validate(schema(kind), js.decode(text))
  assert.is_false(good, kind .. " accepted: " .. text)
end

-- stdout only (stderr to /dev/null); ok, output, exit code
local function out_of(cmd)
  return helper.sh(cmd .. " 2>/dev/null")
end

describe("spec/support/jsonschema", function()
  it("decodes objects, arrays, null, escapes and numbers faithfully", function()
    local v = js.decode([[ {"a": [1, -2.5e1, {}], "b": [], "c": null, "d": "x\u00e9\n\"", "e": true} ]])
    assert.equal(js.OBJECT, getmetatable(v))
    assert.equal(js.ARRAY, getmetatable(v.b))
    assert.equal(js.OBJECT, getmetatable(v.a[3]))
    assert.equal(js.null, v.c)
    assert.equal("xé\n\"", v.d)
    assert.equal("integer", math.type(v.a[1]))
    assert.equal(-25.0, v.a[2])
    assert.is_true(v.e)
    for _, bad in ipairs { "", "{", "[1,]", '{"a" 1}', '{"a":1}x', '"\\q"', '{"a":1,"a":2}', "nul" } do
      assert.is_false(pcall(js.decode, bad), bad)
    end
  end)

  local s = js.decode([[{
    "type": "object", "required": ["n", "kind"], "additionalProperties": false,
    "$defs": { "pos": { "type": "integer", "minimum": 1 } },
    "properties": {
      "n": { "$ref": "#/$defs/pos" },
      "kind": { "enum": ["a", "b"] },
      "tag": { "type": "string", "pattern": "^[a-z]+$", "minLength": 2 },
      "list": { "type": "array", "minItems": 1, "items": { "type": ["string", "null"] } },
      "one": { "oneOf": [ { "type": "integer" }, { "type": "number", "maximum": 2 } ] },
      "any": { "anyOf": [ { "const": 1 }, { "type": "object", "additionalProperties": { "type": "boolean" } } ] }
    }
  }]])

  it("accepts documents that follow the schema", function()
    for _, good in ipairs {
      '{"n": 1, "kind": "a"}',
      '{"n": 7, "kind": "b", "tag": "xy", "list": ["s", null], "one": 1.5, "any": 1}',
      '{"n": 2, "kind": "a", "any": {"x": true}, "one": 1.5}',
    } do
      local ok, errs = js.validate(s, good)
      assert(ok, good .. ": " .. table.concat(errs or {}, "; "))
    end
  end)

  it("rejects each kind of violation, naming the path", function()
    local cases = {
      { '{"kind": "a"}', 'required property "n"' },
      { '{"n": 0, "kind": "a"}', "$.n: 0 is less than 1" },
      { '{"n": 1.5, "kind": "a"}', "$.n: number is not of type integer" },
      { '{"n": 1, "kind": "c"}', "$.kind: c is not one of the enum" },
      { '{"n": 1, "kind": "a", "x": 1}', 'property "x" is not allowed' },
      { '{"n": 1, "kind": "a", "tag": "X1"}', "does not match" },
      { '{"n": 1, "kind": "a", "tag": "x"}', "shorter than 2" },
      { '{"n": 1, "kind": "a", "list": []}', "fewer than 1 items" },
      { '{"n": 1, "kind": "a", "list": [1]}', "$.list[0]: number is not of type string|null" },
      { '{"n": 1, "kind": "a", "list": {}}', "$.list: object is not of type array" },
      { '{"n": 1, "kind": "a", "one": 1}', "matches 2 of oneOf" },
      { '{"n": 1, "kind": "a", "one": 3.5}', "matches 0 of oneOf" },
      { '{"n": 1, "kind": "a", "any": {"x": 1}}', "matches none of anyOf" },
      { '[]', "$: array is not of type object" },
    }
    for _, c in ipairs(cases) do
      local ok, errs = js.validate(s, c[1])
      assert.is_false(ok, c[1])
      assert.matches(c[2], table.concat(errs, "\n"), 1, true)
    end
  end)

  it("raises on a keyword it does not implement, and on a bad $ref", function()
    assert.has_error(function() js.validate({ type = "string", format = "uri" }, '"x"') end,
      'jsonschema: unsupported keyword "format" at $')
    assert.has_error(function() js.validate({ ["$ref"] = "#/$defs/none" }, "1") end)
  end)

  it("every schema file loads and uses only what the validator implements", function()
    for _, kind in ipairs { "ps", "explain", "doctor", "gc", "report" } do
      local sc = schema(kind)
      assert.equal("https://json-schema.org/draft/2020-12/schema", sc["$schema"])
      -- an empty document is checked against every keyword of the schema
      -- (unknown ones raise) without raising
      js.validate(sc, kind == "ps" and "[]" or "{}")
    end
  end)
end)

describe("nslua explain --json", function()
  it("matches spec/schemas/explain.json for the default sandbox, options and recipes", function()
    local runs = {
      "explain --json -- /bin/true",
      "explain --json --net veth --memory 64M --pids 16 --wall 5 --time 1 --caps cap_net_raw -- /bin/echo hi",
      "explain --json --net host --seccomp none --tmpfs /x --ro-bind /etc/passwd:/p -- /bin/true",
      "explain --json --landlock-read /usr --landlock-connect 80 --tty -- /bin/true",
      "explain --json --user host -- /bin/true",
      "explain --json sandbox -- /bin/true",
      "explain --json readonly-files -- /bin/true",
    }
    for _, cmd in ipairs(runs) do
      local ok, out = out_of(N .. " " .. cmd)
      assert(ok, cmd .. ": " .. out)
      local doc = valid("explain", out)
      assert.equal("xxxxxxxx", doc.id)
      assert.is_string(doc.exec.argv[1])
    end
    local _, out = out_of(N .. " explain --json -- /bin/echo hi there")
    local doc = valid("explain", out)
    assert.same({ "/bin/echo", "hi", "there", n = 3 }, doc.exec.argv)
    -- a recipe with a time namespace of its own and offsets
    local dir = helper.tmpdir("0755")
    local f = assert(io.open(dir .. "/t.lua", "w"))
    f:write('return { argv = { "/bin/true" }, namespaces = { time = true }, time_offsets = { monotonic = -2.5 } }\n')
    f:close()
    local ok
    ok, out = out_of(N .. " explain --json " .. helper.quote(dir .. "/t.lua"))
    helper.rmtree(dir)
    assert(ok, out)
    doc = valid("explain", out)
    assert.same({ offsets = "monotonic -3 500000000\n", mono_s = -2.5 }, doc.time)
  end)

  it("the schema rejects a plan with an unknown field or a bad id", function()
    local _, out = out_of(N .. " explain --json -- /bin/true")
    invalid("explain", (out:gsub('^{', '{"bogus":1,')))
    invalid("explain", (out:gsub('"id":"xxxxxxxx"', '"id":"X Y"')))
    invalid("explain", (out:gsub('"op":"mount"', '"op":"frobnicate"', 1)))
  end)
end)

describe("nslua doctor --json", function()
  local function check_doc(out, rc)
    local doc = valid("doctor", out)
    local counts = { ok = 0, info = 0, warn = 0, fail = 0 }
    local names = {}
    for _, c in ipairs(doc.checks) do
      counts[c.verdict] = counts[c.verdict] + 1
      names[c.check] = c
    end
    for k, n in pairs(counts) do assert.equal(n, doc.summary[k], k) end
    assert.equal(rc, doc.exit_code)
    assert.equal(counts.fail > 0 and 1 or 0, doc.exit_code)
    assert.is_table(names.kernel)
    assert.equal("integer", math.type(names["landlock.abi"].abi))
    return doc
  end

  it("matches spec/schemas/doctor.json as root #priv", function()
    if not helper.is_root() then return pending("needs root") end
    local _, out, rc = out_of(N .. " doctor --json")
    check_doc(out, rc)
    invalid("doctor", (out:gsub('"verdict":"ok"', '"verdict":"fine"', 1)))
    invalid("doctor", (out:gsub('"summary":{', '"summary":{"extra":1,', 1)))
  end)

  it("matches spec/schemas/doctor.json rootless #priv", function()
    if not helper.is_root() then return pending("needs root (setpriv to the test user)") end
    local _, out, rc = out_of("cd /tmp && " .. helper.ENV_I .. " " .. helper.rootless_nslua() .. " doctor --json")
    check_doc(out, rc)
  end)
end)

describe("nslua run --report", function()
  it("matches spec/schemas/report.json for exit, signal, error and landlock runs #priv", function()
    local t = helper.track()
    local dir = helper.tmpdir()
    local landlock_abi = require("nslua.core").landlock.abi() or 0
    local cases = {
      { "-- /bin/true", "exited", 0 },
      { "-- /bin/sh -c 'exit 3'", "exited", 3 },
      { "-- /bin/sh -c 'kill -TERM $$'", "signaled", nil, 15 },
      { "-- /nonexistent", "error", 127 },
      { "--landlock-read /usr --landlock-read /nonexistent-dir -- /bin/true", "exited", 0 },
      { "--wall 0.3 -- /bin/sleep 5", "wall-limit", nil, 9 },
    }
    for i, c in ipairs(cases) do
      local file = ("%s/r%d.json"):format(dir, i)
      local _, out = helper.sh(("%s run --report %s %s"):format(N, file, c[1]))
      local text = helper.read(file)
      assert(text, c[1] .. ": no report: " .. out)
      local doc = valid("report", text)
      assert.equal(c[2], doc.status, c[1])
      assert.equal(c[3], doc.exit_code, c[1])
      assert.equal(c[4], doc.signal, c[1])
      if i == 4 then assert.equal("execve", doc.error.step) end
      if i == 5 and landlock_abi > 0 then
        assert.equal(landlock_abi, doc.landlock.abi)
        assert.equal("/nonexistent-dir", doc.landlock.not_enforced[1].path)
        assert.equal("/usr", doc.landlock.enforced[1].path)
      end
    end
    local r1 = helper.read(dir .. "/r1.json")
    invalid("report", (r1:gsub('"status":"exited"', '"status":"done"')))
    invalid("report", (r1:gsub('^{', '{"extra":true,')))
    helper.rmtree(dir)
    helper.assert_released(t)
  end)
end)

describe("nslua ps --json and nslua gc --json", function()
  it("ps lists a running container by name and pids; gc reports the record it removed #priv", function()
    if not helper.is_root() then return pending("needs root") end
    local t = helper.track()
    local dir = helper.tmpdir()
    local name = helper.unique("jsonps")
    -- a private /run/nslua: only this test's record is listed and swept
    local script = ([[
mount -t tmpfs -o mode=0755 nslua-spec /run/nslua || exit 1
D=%s
%s run --name %s -- /bin/sleep 30 >/dev/null 2>&1 & p=$!
i=0
until [ -n "$(ls /run/nslua/*/info 2>/dev/null)" ] && grep -q init_pid /run/nslua/*/info || [ $i -ge 300 ]; do
  sleep 0.02; i=$((i+1))
done
echo "OWNER $p"
%s ps --json > $D/ps.json; echo "PS rc=$?"
init=$(sed -n 's/.*"init_pid":\([0-9]*\).*/\1/p' $D/ps.json)
echo "INIT $init $(grep NSpid /proc/$init/status | tr '\t' ' ')"
%s ps > $D/ps.txt
kill -KILL $p; wait $p
%s gc --json > $D/gc.json; echo "GC rc=$?"
%s gc --json > $D/gc2.json
%s ps --json > $D/ps2.json
]]):format(helper.quote(dir), N, name, N, N, N, N, N)
    local ok, out = helper.sh("unshare -m sh -c " .. helper.quote(script))
    local ps_text, gc_text = helper.read(dir .. "/ps.json") or "", helper.read(dir .. "/gc.json") or ""
    local gc2, ps2 = helper.read(dir .. "/gc2.json") or "", helper.read(dir .. "/ps2.json") or ""
    local ps_human = helper.read(dir .. "/ps.txt") or ""
    helper.rmtree(dir)
    assert(ok, out)
    assert.matches("PS rc=0", out, 1, true)
    assert.matches("GC rc=0", out, 1, true)
    local owner = tonumber(out:match("OWNER (%d+)"))
    local ps = valid("ps", ps_text)
    assert.equal(1, #ps, ps_text)
    local row = ps[1]
    assert.equal(name, row.name)
    assert.equal("running", row.state)
    assert.is_true(row.alive)
    assert.equal(owner, row.owner_pid)
    assert.equal("sleep", row.command:match("[^/]*$"))
    -- the init pid is the container's pid 1, seen from the host
    local init, nspid = out:match("INIT (%d+) NSpid: ([%d ]+)")
    assert.equal(row.init_pid, tonumber(init), out)
    assert.equal("1", nspid:match("(%d+)%s*$"), out)
    assert.matches(row.id .. "%s+" .. name, ps_human)
    -- gc: the dead run's record, with what it named
    local gc = valid("gc", gc_text)
    assert.equal(0, gc.exit_code)
    assert.equal(1, #gc.removed, gc_text)
    local r = gc.removed[1]
    assert.same({ "record", row.id, name, "nslua", row.init_pid },
      { r.kind, r.id, r.name, r.frontend, r.init_pid })
    assert.equal(0, #gc.kept)
    -- nothing left: the next gc removes nothing, ps lists nothing
    assert.equal('{"removed":[],"kept":[],"exit_code":0}', (gc2:gsub("%s+$", "")))
    assert.equal(0, #valid("ps", ps2))
    invalid("gc", (gc_text:gsub('"kind":"record"', '"kind":"thing"')))
    invalid("ps", (ps_text:gsub('"state":"running"', '"state":"asleep"')))
    helper.assert_released(t)
  end)

  it("gc without --json keeps its text output; a bad argument is exit 125", function()
    local ok, out, rc = helper.sh(N .. " gc --jsn")
    assert.is_false(ok)
    assert.equal(125, rc)
    assert.matches("gc: unknown argument '--jsn'", out, 1, true)
    ok, out = helper.sh(N .. " gc --help")
    assert(ok, out)
    assert.matches("--json", out, 1, true)
  end)

  it("rootless: ps --json lists the test user's container; gc --json removes it once dead #priv", function()
    if not helper.is_root() then return pending("needs root (setpriv to the test user)") end
    local t = helper.track()
    local dir = helper.tmpdir("0755")
    -- a state directory of its own ($XDG_RUNTIME_DIR/nslua): the test
    -- user's other runs neither list nor sweep this one
    local xdg = dir .. "/xdg"
    assert(helper.sh(("mkdir -m 0700 %s && chown %d:%d %s"):format(helper.quote(xdg), helper.ROOTLESS_UID,
      helper.ROOTLESS_UID, helper.quote(xdg))))
    local R = ("cd /tmp && %s XDG_RUNTIME_DIR=%s %s"):format(helper.ENV_I, helper.quote(xdg), helper.rootless_nslua())
    local name = helper.unique("jsonrl")
    local script = ([[
D=%s
(%s run --name %s -- /bin/sleep 30 >/dev/null 2>&1 & echo $! > $D/pid; wait) &
i=0
until %s ps --json 2>/dev/null | grep -q '"name":"%s".*"init_pid"\|"init_pid".*"name":"%s"' || [ $i -ge 300 ]; do
  sleep 0.02; i=$((i+1))
done
%s ps --json > $D/ps.json; echo "PS rc=$?"
echo "OWNER $(cat $D/pid)"
kill -KILL $(cat $D/pid)
sleep 0.2
%s gc --json > $D/gc.json; echo "GC rc=$?"
]]):format(helper.quote(dir), R, name, R, name, name, R, R)
    local ok, out = helper.sh(script)
    local ps_text, gc_text = helper.read(dir .. "/ps.json") or "", helper.read(dir .. "/gc.json") or ""
    helper.rmtree(dir)
    assert(ok, out)
    assert.matches("PS rc=0", out, 1, true)
    local ps = valid("ps", ps_text)
    assert.equal(1, #ps, ps_text)
    local row = ps[1]
    assert.equal(name, row.name)
    assert.equal("running", row.state)
    -- (dash execs the last command of the background list: env, setpriv
    -- and lua5.4 keep the pid)
    assert.equal(tonumber(out:match("OWNER (%d+)")), row.owner_pid, out)
    local gc = valid("gc", gc_text)
    assert.equal(1, #gc.removed, gc_text)
    assert.same({ "record", row.id, name }, { gc.removed[1].kind, gc.removed[1].id, gc.removed[1].name })
    helper.assert_released(t)
  end)
end)
