"""How a translation is made to keep its protected tokens and follow the glossary.

Each way is a setting (``tasks.protect_method``, ``tasks.glossary_method``) so that `vigie eval`
compares them on the same reports; "prompt" is the behaviour before placeholders existed.

Protected tokens:
- ``prompt``: the prompt lists them ("Copy exactly: …"); the model writes them itself and the
  check flags what it alters;
- ``placeholders``: they are masked before generation and restored after
  (:mod:`services.translate.placeholders`): the model cannot alter them, only drop a marker,
  which the check flags.

Glossary terms (the required target of each term the report holds):
- ``prompt``: a term list in the prompt ("Glossary: source = target");
- ``annotate``: the target written inline after the term, in the framed report
  ("танков [= chars]");
- ``postedit``: the term list, then a deterministic post-edit: a term the model left in the
  source language is replaced by its target;
- ``placeholders``: the term is masked like a protected token and restored as its target.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from services.translate.glossary import Glossary, GlossaryTerm

__all__ = ["GlossaryMethod", "ProtectMethod", "annotate", "postedit"]

ProtectMethod = Literal["prompt", "placeholders"]
GlossaryMethod = Literal["prompt", "annotate", "postedit", "placeholders"]


def annotate(text: str, spans: Sequence[tuple[int, int, GlossaryTerm]]) -> str:
    """``text`` with ``[= target]`` after each term occurrence (spans as
    ``Glossary.term_spans`` gives them: by start, not overlapping)."""
    out: list[str] = []
    at = 0
    for _, end, term in spans:
        out += [text[at:end], f" [= {term.target}]"]
        at = end
    out.append(text[at:])
    return "".join(out)


def postedit(
    translation: str,
    missed: Sequence[GlossaryTerm],
    glossary: Glossary,
    source_language: str | None,
    target_language: str,
    protected: Sequence[str] = (),
) -> str:
    """``translation`` with each occurrence of a ``missed`` term's source form replaced by the
    term's required target: the model left the term untranslated. A term the model translated
    otherwise is not touched — without an alignment no rule can say which words to replace —
    and neither is a term inside a ``protected`` token ("БТР" in "БТР-82А")."""
    if not missed:
        return translation
    wanted = set(missed)
    kept: list[tuple[int, int]] = []
    for token in protected:
        at = translation.find(token) if token else -1
        while at != -1:
            kept.append((at, at + len(token)))
            at = translation.find(token, at + 1)
    spans = [
        span
        for span in glossary.term_spans(translation, source_language, target_language)
        if span[2] in wanted and not any(span[0] < e and s < span[1] for s, e in kept)
    ]
    out: list[str] = []
    at = 0
    for start, end, term in spans:
        out += [translation[at:start], term.target]
        at = end
    out.append(translation[at:])
    return "".join(out)
