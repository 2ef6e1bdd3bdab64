"""The military glossary: source terms and the target terms a translation must use.

Files (``ops/glossary/``, UTF-8; see its README.md):

- ``<source>-<target>.tsv`` (ISO 639-1 codes, e.g. ``en-fr.tsv``): one term per line,
  ``source<TAB>target``. Blank lines and lines starting with ``#`` are ignored.
  The source column may list several forms separated by ``|`` (inflections, spellings:
  ``колонна|колонны|колонну``); the first is the one shown in prompts. A word ending in ``*``
  matches any continuation of that word (a stem: ``батальон*`` matches ``батальона``).
  The target column may list several accepted renderings separated by ``|``; the first is the
  required one (put into the prompt), the others also count as followed.
- ``protected.txt``: the do-not-translate list, one token per line (``#`` comments).

Matching is case-insensitive on Unicode word boundaries. Arabic source forms are written
without the article or attached particles (``و``, ``ف``, ``ب``, ``ك``, ``ل``, ``ال``), which
the matcher accepts in front of them, and hamza/alif, ya/alif maqsura and ta marbuta/ha
spellings and diacritics are not told apart.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from services.domain.languages import language_key

__all__ = [
    "PROTECTED_FILE",
    "Glossary",
    "GlossaryError",
    "GlossaryTerm",
    "adherence",
]

PROTECTED_FILE = "protected.txt"
_PAIR_FILE = re.compile(r"^(?P<source>[a-z]{2,3})-(?P<target>[a-z]{2,3})\.tsv$")


@dataclass(frozen=True)
class GlossaryTerm:
    """One glossary entry: ``source`` (as shown in prompts) must become ``target``."""

    source_language: str
    source: str
    target_language: str
    target: str
    #: Every form the source matches (``*``: a stem); empty means ``(source,)``.
    source_forms: tuple[str, ...] = ()
    #: Other renderings that also count as following the glossary.
    accepted_targets: tuple[str, ...] = ()

    @property
    def forms(self) -> tuple[str, ...]:
        return self.source_forms or (self.source,)

    @property
    def targets(self) -> tuple[str, ...]:
        return (self.target, *self.accepted_targets)


@dataclass
class GlossaryError(Exception):
    """A glossary file the loader refuses; ``line`` 0 means the file as a whole."""

    file: str
    line: int
    problem: str
    recoverable: bool = False

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.problem}"


class Glossary:
    """Terms per language pair and the do-not-translate list; immutable once built."""

    def __init__(self, terms: Iterable[GlossaryTerm] = (), protected: Iterable[str] = ()) -> None:
        self.terms: tuple[GlossaryTerm, ...] = tuple(terms)
        self.protected: tuple[str, ...] = tuple(dict.fromkeys(protected))
        by_pair: dict[tuple[str, str], list[GlossaryTerm]] = {}
        for term in self.terms:
            by_pair.setdefault((term.source_language, term.target_language), []).append(term)
        self._by_pair = {pair: tuple(terms) for pair, terms in by_pair.items()}
        self._matchers = {pair: _Matcher(terms) for pair, terms in self._by_pair.items()}

    @property
    def pairs(self) -> tuple[tuple[str, str], ...]:
        return tuple(sorted(self._by_pair))

    def terms_for(self, source_language: str, target_language: str) -> tuple[GlossaryTerm, ...]:
        pair = (language_key(source_language) or "", language_key(target_language) or "")
        return self._by_pair.get(pair, ())

    def terms_in(
        self, text: str, source_language: str | None, target_language: str
    ) -> list[GlossaryTerm]:
        """The terms whose source occurs in ``text``, in order of first occurrence.

        At each place the longest term wins ("artillery fire" over "fire") and overlapping
        matches count once. An unknown source language (``None``, ``und``, a language without
        a glossary) searches every glossary into ``target_language``: scripts rarely collide,
        and a missed term costs more than a spurious one, which the model simply sees as a
        hint.
        """
        return list(
            dict.fromkeys(
                term for _, _, term in self.term_spans(text, source_language, target_language)
            )
        )

    def term_spans(
        self, text: str, source_language: str | None, target_language: str
    ) -> list[tuple[int, int, GlossaryTerm]]:
        """Where the terms of :meth:`terms_in` occur in ``text`` (NFC offsets): every
        occurrence, by start, none overlapping another."""
        source = language_key(source_language)
        target = language_key(target_language) or ""
        if source == target:
            return []
        if source is not None and (source, target) in self._matchers:
            matchers = [self._matchers[(source, target)]]
        else:
            matchers = [m for (_, dst), m in sorted(self._matchers.items()) if dst == target]
        text = unicodedata.normalize("NFC", text)
        spans: list[tuple[int, int, GlossaryTerm]] = []
        for matcher in matchers:
            spans.extend(matcher.find(text))
        # Longest first, then earliest; a span overlapping one already kept is a double count.
        # Kept spans never overlap, so sorted by start they are sorted by end too: only the
        # last one starting before a candidate ends can overlap it.
        spans.sort(key=lambda span: (span[0] - span[1], span[0]))
        starts: list[int] = []
        kept: list[tuple[int, int, GlossaryTerm]] = []
        for start, end, term in spans:
            index = bisect.bisect_left(starts, end)
            if index > 0 and kept[index - 1][1] > start:
                continue
            starts.insert(index, start)
            kept.insert(index, (start, end, term))
        return kept

    @staticmethod
    def default_directory() -> Path:
        """The repository's ``ops/glossary`` (a source checkout or an editable install)."""
        return Path(__file__).resolve().parents[2] / "ops" / "glossary"

    @classmethod
    def load(cls, directory: Path) -> Glossary:
        """Every ``<source>-<target>.tsv`` of ``directory`` and its ``protected.txt``."""
        if not directory.is_dir():
            raise GlossaryError(str(directory), 0, "no such glossary directory")
        terms: list[GlossaryTerm] = []
        for path in sorted(directory.glob("*.tsv")):
            terms.extend(_read_pair_file(path))
        protected_path = directory / PROTECTED_FILE
        protected = _read_protected(protected_path) if protected_path.is_file() else []
        return cls(terms, protected)


def adherence(
    terms: Sequence[GlossaryTerm], translation: str
) -> tuple[list[GlossaryTerm], list[GlossaryTerm]]:
    """(followed, missed): whether each term's required target (or an accepted one) appears.

    Case-insensitive, on word boundaries; for French and English targets each word may also
    take a plural ending ("char" is followed by "chars").
    """
    text = unicodedata.normalize("NFC", translation)
    followed: list[GlossaryTerm] = []
    missed: list[GlossaryTerm] = []
    for term in terms:
        hit = any(_target_regex(t, term.target_language).search(text) for t in term.targets)
        (followed if hit else missed).append(term)
    return followed, missed


# ------------------------------------------------------------------------------ matching

_HYPHEN = "[-\u2010\u2011 ]"
_APOSTROPHE = "['\u2019\u02bc]"
_ARABIC_MARKS = "[\u064b-\u0652\u0640]*"  # harakat, shadda, sukun, tatweel
_ARABIC_PROCLITICS = "(?:[وف])?(?:ال|[بكل]ال|لل|[بكل])?"
_CHAR_CLASSES = {
    "-": _HYPHEN,
    "\u2010": _HYPHEN,
    "\u2011": _HYPHEN,
    "'": _APOSTROPHE,
    "\u2019": _APOSTROPHE,
    "\u02bc": _APOSTROPHE,
    "е": "[её]",
    "ё": "[её]",
    "ا": "[اأإآ]",
    "أ": "[اأإآ]",
    "إ": "[اأإآ]",
    "آ": "[اأإآ]",
    "ي": "[يى]",
    "ى": "[يى]",
    "ة": "[ةه]",
    "ه": "[ةه]",
}


def _is_arabic(char: str) -> bool:
    return "\u0600" <= char <= "\u06ff"


def _word_pattern(word: str, *, plural: bool = False) -> str:
    stem = word.endswith("*")
    body = word.rstrip("*")
    parts: list[str] = []
    for char in body:
        parts.append(_CHAR_CLASSES.get(char, re.escape(char)))
        if _is_arabic(char):
            parts.append(_ARABIC_MARKS)
    if stem:
        parts.append(r"\w*")
    elif plural and body[-1:].isalpha():
        parts.append("(?:s|x|es)?")
    return "".join(parts)


def _phrase_pattern(phrase: str, *, plural: bool = False) -> str:
    words = phrase.split()
    body = r"\s+".join(_word_pattern(word, plural=plural) for word in words)
    if any(_is_arabic(char) for char in phrase):
        body = _ARABIC_PROCLITICS + body
    return rf"(?<!\w){body}(?!\w)"


# Letters the patterns treat as one (see _CHAR_CLASSES), folded for the quick presence test.
_FOLD = str.maketrans(
    {"ё": "е", "أ": "ا", "إ": "ا", "آ": "ا", "ى": "ي", "ة": "ه"}
    | {chr(code): None for code in range(0x064B, 0x0653)}
    | {"\u0640": None}
)


def _fold(text: str) -> str:
    return text.casefold().translate(_FOLD)


def _anchor(form: str) -> str:
    """The longest plain piece of a form: a text without it cannot contain the form."""
    pieces = re.split(r"[^\w]+", _fold(form.replace("*", " ")))
    return max(pieces, key=len, default="")


class _Matcher:
    """The source forms of a language pair.

    Each form is searched on its own: one alternation of hundreds of forms defeats the regex
    engine's literal-prefix scan and takes seconds on a 256 KiB report, where separate searches
    take milliseconds each. A plain substring test first skips the forms whose longest literal
    piece is absent; overlaps between forms are resolved by the caller, longest first.
    """

    def __init__(self, terms: Sequence[GlossaryTerm]) -> None:
        self._forms = tuple(
            (_anchor(form), _phrase_pattern(form), term) for term in terms for form in term.forms
        )
        self._compiled: dict[int, re.Pattern[str]] = {}

    def find(self, text: str) -> list[tuple[int, int, GlossaryTerm]]:
        folded = _fold(text)
        found: list[tuple[int, int, GlossaryTerm]] = []
        for number, (anchor, pattern, term) in enumerate(self._forms):
            if anchor not in folded:
                continue
            regex = self._compiled.get(number)
            if regex is None:
                regex = self._compiled[number] = re.compile(pattern, re.IGNORECASE)
            found.extend((m.start(), m.end(), term) for m in regex.finditer(text))
        return found


@lru_cache(maxsize=4096)
def _target_regex(target: str, language: str) -> re.Pattern[str]:
    plural = language in ("fr", "en")
    return re.compile(_phrase_pattern(unicodedata.normalize("NFC", target), plural=plural), re.I)


# ------------------------------------------------------------------------------ loading


def _read_lines(path: Path) -> list[str]:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise GlossaryError(str(path), line, "not UTF-8") from exc
    return unicodedata.normalize("NFC", text.removeprefix("\ufeff")).splitlines()


def _is_skipped(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _split_alternatives(path: Path, number: int, column: str, what: str) -> tuple[str, ...]:
    items = tuple(" ".join(item.split()) for item in column.split("|"))
    if not all(items):
        raise GlossaryError(str(path), number, f"empty {what}")
    return items


def _read_pair_file(path: Path) -> list[GlossaryTerm]:
    name = _PAIR_FILE.match(path.name)
    if name is None:
        raise GlossaryError(str(path), 0, "name must be <source>-<target>.tsv, e.g. en-fr.tsv")
    source_language, target_language = name["source"], name["target"]
    if source_language == target_language:
        raise GlossaryError(str(path), 0, "source and target languages are the same")
    terms: list[GlossaryTerm] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(_read_lines(path), start=1):
        if _is_skipped(line):
            continue
        columns = line.split("\t")
        if len(columns) != 2:
            raise GlossaryError(
                str(path),
                number,
                f"expected source<TAB>target, found {len(columns)} tab-separated fields",
            )
        forms = _split_alternatives(path, number, columns[0], "source term")
        targets = _split_alternatives(path, number, columns[1], "target term")
        for form in forms:
            if "*" in form.replace("* ", " ").rstrip("*"):
                raise GlossaryError(str(path), number, f"'*' only ends a word: {form!r}")
            key = form.casefold()
            if key in seen:
                raise GlossaryError(
                    str(path), number, f"{form!r} is already defined on line {seen[key]}"
                )
            seen[key] = number
        if any("*" in target for target in targets):
            raise GlossaryError(str(path), number, "'*' is for source terms only")
        terms.append(
            GlossaryTerm(
                source_language=source_language,
                source=forms[0].replace("*", ""),
                target_language=target_language,
                target=targets[0],
                source_forms=forms,
                accepted_targets=targets[1:],
            )
        )
    return terms


def _read_protected(path: Path) -> list[str]:
    tokens: list[str] = []
    for number, line in enumerate(_read_lines(path), start=1):
        if _is_skipped(line):
            continue
        token = line.strip()
        if "\t" in token:
            raise GlossaryError(str(path), number, "one token per line, no tabs")
        tokens.append(token)
    return tokens
