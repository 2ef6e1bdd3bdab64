"""Arabic clitics: the prefixes Arabic writes attached to the word they belong to.

A conjunction (و "and", ف "so"), a preposition (ب "in/with", ك "like", ل "for/to") and the
article ال attach to the following word, in that order, at most one of each: "وبالقرب" is
و + ب + ال + قرب. Before the article ل drops the article's alef ("للجنود", not "لالجنود"). A
writer may stretch the joint with a tatweel ("بـ1500"). A word that follows one of these
prefixes is still a whole word; any other match inside a word is not.
"""

from __future__ import annotations

__all__ = ["ARABIC_CLITICS", "TATWEEL", "is_clitic", "without_clitic"]

TATWEEL = "\u0640"

_CONJUNCTIONS = ("", "و", "ف")
_PREPOSITIONS = ("", "ب", "ك", "ل")
_ARTICLES = ("", "ال")


def _combinations() -> frozenset[str]:
    found: set[str] = set()
    for conjunction in _CONJUNCTIONS:
        for preposition in _PREPOSITIONS:
            for article in _ARTICLES:
                if preposition == "ل" and article == "ال":
                    found.add(conjunction + "لل")
                else:
                    found.add(conjunction + preposition + article)
    found.discard("")
    return frozenset(found)


#: و ف ب ك ل ال, and their combinations: وب وال بال لل وبال ولل فال… (23 prefixes).
ARABIC_CLITICS: frozenset[str] = _combinations()


def is_clitic(prefix: str) -> bool:
    """Whether ``prefix`` (the letters of a word before a match) is a clitic prefix."""
    return prefix.rstrip(TATWEEL) in ARABIC_CLITICS


def without_clitic(word: str) -> list[str]:
    """``word`` and, when it starts with clitic prefixes, the word after each of them
    ("والثلاث" → ["والثلاث", "الثلاث", "ثلاث"…]), for looking a word up in a list."""
    forms = [word]
    for length in range(1, min(5, len(word) - 1)):
        if is_clitic(word[:length]):
            forms.append(word[length:].lstrip(TATWEEL))
    return forms
