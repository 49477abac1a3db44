-- spec/jsonpath_spec.lua - nslua.jsonpath: decoded JSON read with paths.
-- Pure: no kernel objects.
local cjson = require "cjson"
local jp = require "nslua.jsonpath"

describe("nslua.jsonpath", function()
  it("reads null as absent and names paths jq's way", function()
    local t = cjson.decode('{"a": null, "b": [1, 2]}')
    assert.is_nil(jp.get(t, "a"))
    assert.same({ 1, 2 }, jp.get(t, "b"))
    assert.equal("b[0]", jp.at("b", 1))
    assert.equal("x.y", jp.field("x", "y"))
    assert.equal("y", jp.field("", "y"))
    assert.is_true(jp.is_object(cjson.decode("{}")))
    assert.is_false(jp.is_object(cjson.decode("[1]")))
    assert.is_true(jp.is_array(cjson.decode("[1]")))
  end)

  it("reads integers and uint64s as the kernel would", function()
    assert.equal(5, jp.as_int(5.0))
    assert.is_nil(jp.as_int(5.5))
    assert.is_nil(jp.as_u64(-1))
    assert.equal(-1, jp.as_u64(cjson.decode("18446744073709551615")))
    assert.equal(math.mininteger, jp.as_u64(2.0 ^ 63))
    assert.is_nil(jp.as_u64("7"))
  end)

  it("the Reader collects every problem with its path", function()
    local r = jp.Reader.new()
    local t = cjson.decode('{"s": 1, "n": "x", "o": [], "a": {"k": 1}, "l": ["a", 2], "b": 0, "zz": 1}')
    assert.is_nil(r:string(t, "s", "top"))
    assert.is_nil(r:integer(t, "n", "top", 0, 5))
    assert.is_nil(r:array(t, "a", "top"))
    assert.same({ "a" }, r:strings(t, "l", "top"))
    assert.is_nil(r:boolean(t, "b", "top"))
    assert.is_nil(r:string(t, "missing", "top"))
    r:unknown({ s = 1, zz = 2 }, { s = true, t = true }, "top")
    assert.same({
      "top.s: must be a string",
      "top.n: must be an integer in 0..5",
      "top.a: must be an array",
      "top.l[1]: must be a string",
      "top.b: must be a boolean",
      "top.zz: unknown field (valid here: s t)",
    }, r.errors)
  end)
end)
