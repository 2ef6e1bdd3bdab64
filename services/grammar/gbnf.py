"""Compile the JSON Schema subset our extractors use into a llama.cpp GBNF grammar.

llama.cpp's own converter lets whitespace and strings run on without limit, so a small model can
spend its whole token allowance on spaces or one endless string and never close the JSON. Here
every production is bounded — one optional space after ``:`` and ``,`` and nowhere else, strings
and arrays capped, numbers of limited width, properties in one fixed order — so the longest
output the grammar accepts has a known size in bytes. llama.cpp's grammar sampler masks every
token whose text is empty, so each sampled token adds at least one byte: ``max_bytes`` tokens plus
one for end-of-generation always suffice to finish, whatever the model prefers.

The grammar may be stricter than the schema, never looser in shape: ``minimum``/``maximum`` and
``format`` are left to msgspec, which validates every output after generation.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.grammar.spans import KEYWORD as SPANS_KEYWORD
from services.grammar.spans import SpanTrie, spec_of

__all__ = ["CompiledSchema", "SchemaError", "compile_schema", "token_budget"]

# llama.cpp refuses a repetition count above 2000 and, worse, silently turns an upper bound above
# it into "unbounded"; longer runs are chained from pieces no longer than this.
_REP_LIMIT = 2000
_INT_BYTES = 16  # "-" and 15 digits: exact as int64 and as float64, so decoding never fails
_NUM_BYTES = _INT_BYTES + 7  # "." and up to 6 fraction digits; no exponent to run away with
_CHAR_BYTES = 6  # the longest spelling of one string character is the escape \uXXXX
_INTEGER = '"-"? ("0" | [1-9] [0-9]{0,14})'
_CHAR = r'[^"\\\x00-\x1f] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4})'

# Accepted and ignored: annotations, and checks msgspec makes on the decoded output anyway.
_IGNORED = frozenset(
    {"title", "description", "default", "examples", "$comment", "$schema", "deprecated"}
    | {"readOnly", "writeOnly", "format", "contentEncoding", "contentMediaType", "discriminator"}
    | {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}
    | {"$defs", "definitions"}
)
_KNOWN = _IGNORED | {"type", "properties", "required", "additionalProperties", "items", "$ref"}
_KNOWN |= {"minItems", "maxItems", "minLength", "maxLength", "enum", "const", "anyOf", "oneOf"}
# Our extension: a string that is a span of a given text (services.grammar.spans).
_KNOWN |= {SPANS_KEYWORD}
_KINDS = ("$ref", "const", "enum", "anyOf", "oneOf", "type")
_REF = re.compile(r"#/(\$defs|definitions)/([^/]+)")
_ATOM = re.compile(r'[a-zA-Z0-9-]+|"(?:[^"\\]|\\.)*"')


class SchemaError(Exception):
    """A schema outside the supported subset; ``str()`` is one line: where, and what is wrong."""

    recoverable = False

    def __init__(self, path: str, problem: str) -> None:
        self.path, self.problem = path, problem
        super().__init__(str(self))

    def __str__(self) -> str:
        return " ".join(f"unsupported JSON Schema at #{self.path}: {self.problem}".split())


@dataclass(frozen=True)
class CompiledSchema:
    """A GBNF grammar and the longest output it accepts; ``token_budget`` always lets it close."""

    gbnf: str
    max_bytes: int
    token_budget: int
    root: str = "root"


def compile_schema(
    schema: Mapping[str, Any], *, max_string: int = 256, max_items: int = 16
) -> CompiledSchema:
    """Compile ``schema``; strings without ``maxLength`` get ``max_string`` characters at most,
    arrays without ``maxItems`` get ``max_items`` items at most."""
    if max_string < 0 or max_items < 0:
        raise ValueError("max_string and max_items must not be negative")
    compiler = _Compiler(schema, max_string, max_items)
    compiler.rules["root"], size = compiler.body(schema, "", "root")
    gbnf = "".join(f"{name} ::= {body}\n" for name, body in compiler.rules.items())
    return CompiledSchema(gbnf=gbnf, max_bytes=size, token_budget=size + 1)


def token_budget(schema: Mapping[str, Any], *, max_string: int = 256, max_items: int = 16) -> int:
    """Tokens that always let an output under ``schema`` close: the bound the engine gives a
    request with this schema (its ``max_tokens`` then does not matter). Raises SchemaError."""
    return compile_schema(schema, max_string=max_string, max_items=max_items).token_budget


class _Compiler:
    def __init__(self, root: Mapping[str, Any], max_string: int, max_items: int) -> None:
        self.root, self.max_string, self.max_items = root, max_string, max_items
        self.rules: dict[str, str] = {"root": ""}  # name → body, root first
        self.by_body: dict[str, str] = {}
        self.defs: dict[str, tuple[str, int]] = {}
        self.resolving: set[str] = set()
        self.tries: dict[tuple[str, int], SpanTrie] = {}
        self.counts: dict[str, int] = {}

    def name(self, hint: str) -> str:
        base = re.sub(r"[^a-zA-Z0-9-]+", "-", hint).strip("-") or "rule"
        # Counting from the last number given to this base: a trie's hundreds of "span-node"
        # rules would otherwise make naming quadratic.
        name, n = base, self.counts.get(base, 1)
        if n > 1:
            name = f"{base}-{n}"
        while name in self.rules:
            n += 1
            name = f"{base}-{n}"
        self.counts[base] = n
        self.rules[name] = ""  # reserved until the body is known
        return name

    def rule(self, hint: str, body: str) -> str:
        # Identical bodies share one rule: every 256-char string in a schema costs one line.
        if body not in self.by_body:
            name = self.name(hint)
            self.rules[name], self.by_body[body] = body, name
        return self.by_body[body]

    def atom(self, body: str, hint: str) -> str:
        return body if _ATOM.fullmatch(body) else self.rule(hint, body)

    def value(self, node: Any, path: str, hint: str) -> tuple[str, int]:
        """A single symbol (rule name or literal) for ``node``, and its size in bytes."""
        body, size = self.body(node, path, hint)
        return self.atom(body, hint), size

    def body(self, node: Any, path: str, hint: str) -> tuple[str, int]:
        if not isinstance(node, Mapping):
            raise SchemaError(path, "a schema must be an object (boolean schemas have no bound)")
        for key in node:
            if key not in _KNOWN:
                raise SchemaError(path, f"keyword {key!r} is not supported")
        kinds = [k for k in _KINDS if k in node]
        if not kinds:
            raise SchemaError(path, "no 'type': an unconstrained value has no bounded size")
        if len(kinds) > 2 or (len(kinds) == 2 and kinds[0] not in ("const", "enum")):
            raise SchemaError(path, f"cannot combine {' and '.join(map(repr, kinds))}")
        kind = kinds[0]
        if kind == "$ref":
            return self.ref(node["$ref"], path)
        if kind in ("const", "enum"):
            return _literals([node["const"]] if kind == "const" else node["enum"], path, kind)
        if kind in ("anyOf", "oneOf"):
            subs = node[kind]
            if not isinstance(subs, list) or not subs:
                raise SchemaError(path, f"{kind!r} must be a non-empty list")
            return _alternatives(
                [self.value(s, f"{path}/{kind}/{i}", f"{hint}-{i}") for i, s in enumerate(subs)]
            )
        types = node["type"]
        if not isinstance(types, list):
            return self.typed(types, node, path, hint)
        if not types:
            raise SchemaError(path, "'type' must not be an empty list")
        return _alternatives(
            [
                (self.atom(body, f"{hint}-{t}"), size)
                for t in types
                for body, size in [self.typed(t, node, path, f"{hint}-{t}")]
            ]
        )

    def typed(self, kind: Any, node: Mapping[str, Any], path: str, hint: str) -> tuple[str, int]:
        if kind == "object":
            return self.object(node, path, hint)
        if kind == "array":
            return self.array(node, path, hint)
        if kind == "string" and SPANS_KEYWORD in node:
            return self.spans(node, path)
        if kind == "string":
            lo, hi = self.bounds(node, path, "minLength", "maxLength", self.max_string)
            chars = self.repeat(self.rule("char", _CHAR), lo, hi)
            name = f"string-{hi}" if lo == 0 else f"string-{lo}-{hi}"
            return self.rule(name, _seq('"\\""', chars, '"\\""')), hi * _CHAR_BYTES + 2
        if kind == "integer":
            return self.rule("integer", _INTEGER), _INT_BYTES
        if kind == "number":
            integer = self.rule("integer", _INTEGER)
            return self.rule("number", f'{integer} ("." [0-9]{{1,6}})?'), _NUM_BYTES
        if kind == "boolean":
            return self.rule("boolean", '"true" | "false"'), 5
        if kind == "null":
            return '"null"', 4
        raise SchemaError(path, f"type {kind!r} is not supported")

    def spans(self, node: Mapping[str, Any], path: str) -> tuple[str, int]:
        try:
            text, max_chars, starts = spec_of(node)
            trie = self.tries.get((text, max_chars))
            if trie is None:
                trie = self.tries[(text, max_chars)] = SpanTrie(text, max_chars)
            body, size = trie.gbnf(starts, _literal, self.rule)
        except ValueError as exc:
            raise SchemaError(path, str(exc)) from None
        return self.rule("span", body), size

    def object(self, node: Mapping[str, Any], path: str, hint: str) -> tuple[str, int]:
        props, required = node.get("properties", {}), node.get("required", [])
        if not isinstance(props, Mapping):
            raise SchemaError(path, "'properties' must be an object")
        if not isinstance(required, list) or not all(isinstance(k, str) for k in required):
            raise SchemaError(path, "'required' must be a list of property names")
        if missing := [k for k in required if k not in props]:
            raise SchemaError(path, f"required property {missing[0]!r} has no schema")
        if not isinstance(node.get("additionalProperties", False), bool):
            raise SchemaError(path, "'additionalProperties' with a schema is not supported")
        if not props:
            return '"{}"', 2
        fields: list[tuple[str, bool]] = []
        size = 2 * len(props)  # "{" "}" and a ", " between each pair
        for key, sub in props.items():
            pointer = key.replace("~", "~0").replace("/", "~1")
            val, val_size = self.value(sub, f"{path}/properties/{pointer}", f"{hint}-{key}")
            spelled = json.dumps(key, ensure_ascii=False)
            fields.append((f'{_literal(spelled)} ":" " "? {val}', key in required))
            size += len(spelled.encode()) + 2 + val_size
        # Fixed order, so the only choice is which optional fields appear: one alternative per
        # possible first field (each optional field before the first required one, or none).
        heads = next((i + 1 for i, (_, req) in enumerate(fields) if req), len(fields) + 1)
        tails = [""] * (len(fields) + 1)  # tails[i]: fields i.., each behind its comma
        for i in reversed(range(1, len(fields))):
            kv, req = fields[i]
            tail = _seq(f'"," " "? {kv}' if req else f'("," " "? {kv})?', tails[i + 1])
            tails[i] = self.rule(f"{hint}-from-{i}", tail) if heads > 1 else tail
        alts = [
            _seq('"{"', fields[i][0], tails[i + 1], '"}"') for i in range(min(heads, len(fields)))
        ]
        alts += ['"{}"'] if heads > len(fields) else []
        return " | ".join(alts), size

    def array(self, node: Mapping[str, Any], path: str, hint: str) -> tuple[str, int]:
        items = node.get("items")
        if not isinstance(items, Mapping):
            raise SchemaError(path, "an array needs one 'items' schema (no tuples, no untyped)")
        lo, hi = self.bounds(node, path, "minItems", "maxItems", self.max_items)
        if hi == 0:
            return '"[]"', 2
        item, item_size = self.value(items, f"{path}/items", f"{hint}-item")
        more = self.rule(f"{hint}-more", f'"," " "? {item}')
        body = _seq('"["', item, self.repeat(more, max(lo - 1, 0), hi - 1), '"]"')
        return ('"[]" | ' if lo == 0 else "") + body, 2 + hi * item_size + 2 * (hi - 1)

    def bounds(
        self, node: Mapping[str, Any], path: str, low: str, high: str, default: int
    ) -> tuple[int, int]:
        lo, hi = (node.get(k) for k in (low, high))
        for key, v in ((low, lo), (high, hi)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
                raise SchemaError(path, f"{key!r} must be a non-negative integer")
        lo = lo or 0
        # A default cap below minLength/minItems would make the schema unsatisfiable.
        hi = max(default, lo) if hi is None else hi
        if lo > hi:
            raise SchemaError(path, f"{low!r} is above {high!r}")
        return lo, hi

    def repeat(self, item: str, lo: int, hi: int) -> str:
        """``item{lo,hi}`` in pieces llama.cpp accepts (see _REP_LIMIT)."""
        parts = []
        while lo > 0:
            n = min(lo, _REP_LIMIT)
            parts.append(f"{item}{{{n}}}")
            lo, hi = lo - n, hi - n
        if hi > _REP_LIMIT:
            longer = f"{item}{{{_REP_LIMIT}}} {self.repeat(item, 0, hi - _REP_LIMIT)}"
            parts.append(self.rule(f"{item}-upto-{hi}", f"{longer} | {item}{{0,{_REP_LIMIT - 1}}}"))
        elif hi > 0:
            parts.append(f"{item}{{0,{hi}}}")
        return " ".join(parts)

    def ref(self, ref: Any, path: str) -> tuple[str, int]:
        match = _REF.fullmatch(ref) if isinstance(ref, str) else None
        if match is None:
            raise SchemaError(path, f"$ref {ref!r}: only '#/$defs/<name>' refs are supported")
        if ref in self.defs:
            return self.defs[ref]
        if ref in self.resolving:
            raise SchemaError(path, f"recursive $ref {ref!r} has no bounded output size")
        section, key = match.groups()
        defs = self.root.get(section)
        name = key.replace("~1", "/").replace("~0", "~")
        if not isinstance(defs, Mapping) or name not in defs:
            raise SchemaError(path, f"$ref {ref!r} does not resolve")
        self.resolving.add(ref)
        rule = self.name(name)
        self.rules[rule], size = self.body(defs[name], f"/{section}/{key}", rule)
        self.resolving.discard(ref)
        self.defs[ref] = rule, size
        return rule, size


def _seq(*parts: str) -> str:
    return " ".join(p for p in parts if p)


def _alternatives(alts: list[tuple[str, int]]) -> tuple[str, int]:
    return " | ".join(dict.fromkeys(a for a, _ in alts)), max(size for _, size in alts)


def _literals(values: Any, path: str, kind: str) -> tuple[str, int]:
    if not isinstance(values, list) or not values:
        raise SchemaError(path, f"{kind!r} must be a non-empty list")
    spelled = []
    for v in values:
        if not isinstance(v, str | int | float | bool | None) or (
            isinstance(v, float) and not math.isfinite(v)
        ):
            raise SchemaError(path, f"{kind!r} value {v!r} is not a JSON scalar")
        spelled.append(json.dumps(v, ensure_ascii=False))
    size = max(len(s.encode("utf-8", "surrogatepass")) for s in spelled)
    return " | ".join(dict.fromkeys(map(_literal, spelled))), size


def _literal(text: str) -> str:
    """``text`` as a GBNF literal; non-printables escaped so every rule stays on one line."""
    out = []
    for c in text:
        cp = ord(c)
        if c in '"\\':
            out.append("\\" + c)
        elif c.isprintable():
            out.append(c)
        else:
            out.append(
                f"\\x{cp:02x}" if cp < 0x100 else f"\\u{cp:04x}" if cp < 0x10000 else f"\\U{cp:08x}"
            )
    return '"' + "".join(out) + '"'
