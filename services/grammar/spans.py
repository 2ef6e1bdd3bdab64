"""Spans of a source text as a grammar: the model may copy words of the text, nothing else.

The JSON Schema keyword :data:`KEYWORD` on a string schema,
``{"type": "string", "x-source-spans": {"text": …, "maxLength": 24, "starts": [0, 3, …]}}``,
restricts the string to a span of ``text`` that begins and ends on word boundaries: one word or
several consecutive ones with the text's own separators between them, at most ``maxLength``
characters (a single longer word is still allowed whole), beginning at one of the ``starts``
(indices into :func:`words`; absent: any word).

The grammar is a trie of the text's words: from each word, the words that follow it in the text,
up to the length bound. Occurrences of the same word share their trie node, so the grammar grows
with the number of distinct word sequences of bounded length — linear in the text, whatever its
repetitions: a 2,000-character report gives a few hundred rules (see the tests for the bound).

A separator a span may cross holds neither a line break nor any character a JSON string must
escape (``"``, ``\\``, controls), so the span is its own JSON spelling. Words are runs of
letters and digits, joined inside by ``- ' ’ . /`` ("T-72B3", "п'ятниця", "12.5", "3/75"), the
same boundary grounding checks (a letter or digit never glued to another outside the span).

Pure: the standard library only (the grammar compiler calls it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "KEYWORD",
    "MAX_SEPARATOR",
    "SpanTrie",
    "Word",
    "span_schema",
    "uses_extensions",
    "words",
]

KEYWORD = "x-source-spans"
#: Longest separator a span may cross (", " and " - " are separators; a paragraph is not).
MAX_SEPARATOR = 3

_WORD = re.compile(r"[^\W_]+(?:[-'’./\u2010\u2011][^\W_]+)*")
_CROSSABLE = re.compile(rf'[^\n\r\t"\\\x00-\x1f\x7f\u2028\u2029]{{1,{MAX_SEPARATOR}}}')


@dataclass(frozen=True)
class Word:
    start: int
    end: int
    text: str


def words(text: str) -> list[Word]:
    """The words of ``text``, in order (see the module docstring)."""
    return [Word(m.start(), m.end(), m.group(0)) for m in _WORD.finditer(text)]


def uses_extensions(schema: Any) -> bool:
    """Whether ``schema`` uses :data:`KEYWORD` anywhere (a validator that knows only JSON
    Schema ignores it: it enforces the shape, not the spans)."""
    if isinstance(schema, Mapping):
        return KEYWORD in schema or any(uses_extensions(v) for v in schema.values())
    if isinstance(schema, list):
        return any(uses_extensions(v) for v in schema)
    return False


def span_schema(text: str, max_chars: int, starts: Sequence[int] | None = None) -> dict[str, Any]:
    """The JSON Schema of a string that is a span of ``text`` (see the module docstring)."""
    spec: dict[str, Any] = {"text": text, "maxLength": max_chars}
    if starts is not None:
        spec["starts"] = sorted(set(starts))
    return {"type": "string", KEYWORD: spec}


@dataclass
class _Node:
    children: dict[str, _Node] = field(default_factory=dict)
    #: UTF-8 bytes of the longest path below (the edges' text).
    below: int = 0


class SpanTrie:
    """The bounded word trie of one text; :meth:`gbnf` writes the rules of a span (the trie's
    own rules once, whatever the number of calls: one trie serves one grammar)."""

    def __init__(self, text: str, max_chars: int) -> None:
        if max_chars < 1:
            raise ValueError("maxLength must be at least 1")
        self.words = words(text)
        self.root: dict[str, _Node] = {}
        #: First words' text → the trie node under it (shared by every occurrence).
        for i, first in enumerate(self.words):
            node = self.root.setdefault(first.text, _Node())
            end = first.end
            for nxt in self.words[i + 1 :]:
                sep = text[end : nxt.start]
                if not _CROSSABLE.fullmatch(sep) or nxt.end - first.start > max_chars:
                    break
                node = node.children.setdefault(sep + nxt.text, _Node())
                end = nxt.end
        self.nodes = 0
        for node in self.root.values():
            self._measure(node)
        #: Trie node → its continuation rule, once written (a trie serves one compiler).
        self._names: dict[int, str] = {}

    def _measure(self, node: _Node) -> int:
        self.nodes += 1
        node.below = max(
            (len(edge.encode()) + self._measure(child) for edge, child in node.children.items()),
            default=0,
        )
        return node.below

    def gbnf(
        self,
        starts: Sequence[int] | None,
        literal: Callable[[str], str],
        add_rule: Callable[[str, str], str],
    ) -> tuple[str, int]:
        """The body of the span's rule (a JSON string) and its largest size in bytes;
        ``add_rule(hint, body)`` adds a rule and returns its name, ``literal`` spells a GBNF
        literal. Raises ValueError when no span is possible (no word, no allowed start)."""
        allowed = (
            list(dict.fromkeys(w.text for w in self.words))
            if starts is None
            else list(dict.fromkeys(self.words[i].text for i in starts if 0 <= i < len(self.words)))
        )
        if not allowed:
            raise ValueError("no word of the text may start a span")
        names = self._names

        def then(node: _Node) -> str:
            """What may follow a node: nothing, or one of its edges and what follows that
            (a leaf adds nothing; identical continuations share one rule)."""
            if not node.children:
                return ""
            if id(node) not in names:
                alts = [_seq(literal(edge), then(child)) for edge, child in node.children.items()]
                names[id(node)] = add_rule("span-node", f"({' | '.join(alts)})?")
            return names[id(node)]

        alts = []
        size = 0
        for first in allowed:
            node = self.root[first]
            alts.append(_seq(literal(first), then(node)))
            size = max(size, len(first.encode()) + node.below)
        body = f'"\\"" ({" | ".join(alts)}) "\\""'
        return body, size + 2


def _seq(*parts: str) -> str:
    return " ".join(p for p in parts if p)


def spec_of(node: Mapping[str, Any]) -> tuple[str, int, list[int] | None]:
    """``(text, maxLength, starts)`` of a :data:`KEYWORD` value; ValueError when malformed."""
    spec = node.get(KEYWORD)
    if not isinstance(spec, Mapping):
        raise ValueError(f"{KEYWORD!r} must be an object")
    text, max_chars, starts = spec.get("text"), spec.get("maxLength"), spec.get("starts")
    if not isinstance(text, str):
        raise ValueError(f"{KEYWORD!r} needs the source 'text'")
    if isinstance(max_chars, bool) or not isinstance(max_chars, int) or max_chars < 1:
        raise ValueError(f"{KEYWORD!r} needs a positive 'maxLength'")
    if starts is not None and (
        not isinstance(starts, list)
        or not all(isinstance(i, int) and not isinstance(i, bool) for i in starts)
    ):
        raise ValueError(f"{KEYWORD!r}: 'starts' must be a list of word indices")
    if set(spec) - {"text", "maxLength", "starts"}:
        raise ValueError(f"{KEYWORD!r}: unknown field")
    return text, max_chars, starts
