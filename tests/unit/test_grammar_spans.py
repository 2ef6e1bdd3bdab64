"""Spans of the source as a grammar: what the trie accepts, and how big it gets."""

from __future__ import annotations

import json
import re

import pytest

from services.evaluation.gold import load_gold
from services.extract.constrained import source_entity_schema
from services.extract.grounding import ground
from services.extract.model import ENTITY_SCHEMA, MAX_ENTITY_CHARS, ProposedEntity
from services.extract.plausibility import implausible
from services.grammar import SchemaError, compile_schema, uses_extensions
from services.grammar.spans import SpanTrie, span_schema, words

TEXT = 'Le 2e REP voit deux T-72B3 près de Kharkiv, indicatif "ALPHA 6".\nLe 2e REP se replie.'


def accepted(trie: SpanTrie, starts: list[int] | None = None) -> set[str]:
    """Every string the trie accepts (walked in Python, the same structure the rules spell)."""
    firsts = (
        {w.text for w in trie.words} if starts is None else {trie.words[i].text for i in starts}
    )
    out: set[str] = set()

    def walk(prefix: str, node: object) -> None:
        out.add(prefix)
        for edge, child in node.children.items():  # type: ignore[attr-defined]
            walk(prefix + edge, child)

    for first in firsts:
        walk(first, trie.root[first])
    return out


def test_words_are_runs_of_letters_and_digits_joined_inside() -> None:
    assert [w.text for w in words("T-72B3, п'ятниця 12.5 وبالقرب 3/75 _x")] == [
        "T-72B3",
        "п'ятниця",
        "12.5",
        "وبالقرب",
        "3/75",
        "x",
    ]


def test_every_span_accepted_is_a_slice_of_the_text_on_word_boundaries() -> None:
    trie = SpanTrie(TEXT, 24)
    spans = accepted(trie)
    for span in spans:
        starts = [m.start() for m in re.finditer(re.escape(span), TEXT)]
        assert starts, span
        assert any(
            (s == 0 or not TEXT[s - 1].isalnum()) and not TEXT[s + len(span) :][:1].isalnum()
            for s in starts
        ), span
        assert '"' not in span and "\n" not in span
        assert len(span) <= 24 or " " not in span
    # ...and every such span of the text is accepted.
    assert {"2e REP", "deux T-72B3", "Kharkiv, indicatif", "ALPHA 6", "REP se replie"} <= spans
    # Not inside a word, not across a quote or a line break, not longer than the bound.
    assert not {"e REP", "T-72", 'indicatif "ALPHA', '6".', "REP.\nLe"} & spans
    assert "Le 2e REP voit deux T-72B3" not in spans  # 26 characters


def test_a_type_may_start_only_where_its_text_is_plausible() -> None:
    schema = source_entity_schema(TEXT)
    alternatives = schema["properties"]["entities"]["items"]["anyOf"]
    by_type = {a["properties"]["type"]["const"]: a["properties"]["text"] for a in alternatives}
    quantity = by_type["Quantity"]["x-source-spans"]["starts"]
    assert {words(TEXT)[i].text for i in quantity} == {"2e", "deux", "T-72B3", "6"}
    trie = SpanTrie(TEXT, MAX_ENTITY_CHARS)
    for span in accepted(trie, quantity):
        assert implausible("Quantity", span) is None
    # Grounding locates every span the grammar allows, for its type, and drops none.
    proposals = [
        ProposedEntity(type=kind, text=span)  # type: ignore[arg-type]
        for kind, spec in by_type.items()
        for span in sorted(accepted(trie, spec["x-source-spans"].get("starts")))
    ]
    grounding = ground(proposals, TEXT)
    assert grounding.dropped == []


def test_only_the_types_asked_for_are_alternatives() -> None:
    schema = source_entity_schema(TEXT, ("Location", "MilitaryPlatform"))
    alternatives = schema["properties"]["entities"]["items"]["anyOf"]
    assert {a["properties"]["type"]["const"] for a in alternatives} == {
        "Location",
        "MilitaryPlatform",
    }


def test_the_schema_compiles_and_its_answers_decode_like_the_free_ones() -> None:
    compiled = compile_schema(source_entity_schema(TEXT))
    assert '"\\"" (' in compiled.gbnf and "Kharkiv" in compiled.gbnf
    assert compiled.token_budget <= compile_schema(ENTITY_SCHEMA).token_budget
    answer = {"entities": [{"type": "Unit", "text": "2e REP"}]}
    assert json.loads(json.dumps(answer)) == answer


def test_a_schema_says_whether_it_uses_the_extension() -> None:
    assert uses_extensions(source_entity_schema(TEXT))
    assert not uses_extensions(ENTITY_SCHEMA)


def test_a_text_without_words_allows_only_the_empty_list() -> None:
    schema = source_entity_schema(" — ... ")
    assert schema["properties"]["entities"]["maxItems"] == 0
    compile_schema(schema)


def test_a_malformed_span_keyword_is_refused() -> None:
    bad = span_schema("abc", 24)
    bad["x-source-spans"]["maxLength"] = 0
    with pytest.raises(SchemaError, match="maxLength"):
        compile_schema(bad)
    with pytest.raises(SchemaError, match="no word"):
        compile_schema(span_schema("abc def", 24, starts=[7]))


def test_a_2000_character_report_stays_a_bounded_grammar() -> None:
    """The bound stated in services.grammar.spans: gold reports run together to 2,000
    characters give at most 1,000 rules and 64 KiB of grammar; the worst case, 2,000
    characters of distinct two-digit words, stays linear (≤ 8 rules a word, 256 KiB)."""
    natural = " ".join(r.text for r in load_gold())[:2000]
    compiled = compile_schema(source_entity_schema(natural))
    assert compiled.gbnf.count("\n") <= 1000
    assert len(compiled.gbnf.encode()) <= 64 * 1024
    adversarial = " ".join(str(i) for i in range(10, 700))[:2000]
    compiled = compile_schema(source_entity_schema(adversarial))
    assert compiled.gbnf.count("\n") <= 8 * len(words(adversarial))
    assert len(compiled.gbnf.encode()) <= 256 * 1024
