"""Radio frequencies (``145.500 MHz``, ``30,025 МГц``) and callsigns (``VIPER 2-1`` after
"callsign", "indicatif", "позывной").

Pure (standard library and ``services.domain.spans`` only): a finder any task can share.
"""

from __future__ import annotations

import re

from services.domain.spans import Span

__all__ = ["FREQUENCY_UNIT", "find_bare_frequencies", "find_comms", "find_named_callsigns"]

_GAP = "[ \u00a0\u202f]"

# A frequency's unit: written as a code a translation keeps, or as an Arabic word it renders.
_UNIT = "(?:[kMG]Hz|Hz|[KMG]HZ|МГц|кГц|ГГц|МГЦ)"
_ARABIC_UNIT = "(?:ميغاهرتز|ميجاهرتز|ميغا هرتز)"
#: Either, for a reader that wants the frequency with its unit whatever the script.
FREQUENCY_UNIT = f"(?:{_UNIT}|{_ARABIC_UNIT})"

_FREQUENCY_RE = re.compile(rf"(?<![\w.,])[0-9]{{1,5}}(?:[.,][0-9]{{1,4}})?{_GAP}?{_UNIT}(?!\w)")

# A radio frequency written without its unit: a VHF/UHF channel, 30 to 399 MHz with its three
# decimals ("34.150", "38,900"). A decimal like that is a frequency only where the text says so:
# - a nine-line request (MEDEVAC, EVASAN, МЕДЭВАК, إخلاء طبي…), whose line 2 is the frequency;
# - a frequency word or "on"/"sur" just before it and no unit word after it ("SABRE 2-2 on
#   36.750", "التردد 148.375");
# - a unit word the translation renders just after it ("152.600 ميغاهرتز": the number is kept,
#   the unit translated).
_CHANNEL = r"(?<![\w.,])(?P<number>(?:[3-9][0-9]|[1-3][0-9]{2})[.,][0-9]{3})(?![\w]|[.,][0-9])"
_CHANNEL_RE = re.compile(_CHANNEL)
_NINE_LINE_RE = re.compile(
    r"(?i:9[- ]?lines?r?\b|\b9L\b|nine[- ]line|medevac|evasan|МЕДЭВАК|медэвак|9-лайн)"
    r"|إخلاء طبي|9 بنود"
)
_FREQUENCY_CUE_RE = re.compile(
    rf"(?:\b(?:on|sur|freq\.?|fréquence|frequency|частота|частоті|на)|التردد|على){_GAP}+{_CHANNEL}"
    rf"(?!{_GAP}*[^\W\d_])"  # "on 36.750 km" is a distance
)
_UNIT_AFTER_RE = re.compile(rf"{_CHANNEL}{_GAP}+{_ARABIC_UNIT}")

# The callsign after the word that announces it. A word ("callsign", "indicatif") is prose the
# translation renders; the abbreviation "C/S" is kept as written, with the callsign ("C/S 33"),
# so it is part of the token.
_CALLSIGN_RE = re.compile(
    r"(?P<cue>(?i:\bcall[- ]?sign|\bindicatif|позывной|позивний)|(?i:\bc/s))\s*[:«\"'“]?\s*"
    r"(?P<callsign>[A-Z0-9][A-Za-z0-9]*(?:[ -][0-9]{1,2}(?:-[0-9]{1,2})?)?)"
)


def find_comms(text: str) -> list[Span]:
    """Radio frequencies (``145.500 MHz``) and the callsign after "callsign"/"indicatif"."""
    spans = [Span(m.start(), m.end(), m.group(0), "comms") for m in _FREQUENCY_RE.finditer(text)]
    spans.extend(find_bare_frequencies(text))
    for m in _CALLSIGN_RE.finditer(text):
        start = m.start("cue") if "/" in m["cue"] else m.start("callsign")
        spans.append(Span(start, m.end("callsign"), text[start : m.end("callsign")], "comms"))
    return spans


def find_bare_frequencies(text: str) -> list[Span]:
    """Frequencies written without their unit, where the text says they are frequencies: in
    a nine-line request, after "on"/"sur"/"التردد", or before a unit word to translate."""
    matches = [*_FREQUENCY_CUE_RE.finditer(text), *_UNIT_AFTER_RE.finditer(text)]
    if _NINE_LINE_RE.search(text):
        matches += _CHANNEL_RE.finditer(text)
    spans = {(m.start("number"), m.end("number")): m["number"] for m in matches}
    return [Span(start, end, number, "comms") for (start, end), number in sorted(spans.items())]


# Callsigns that are names ("«Шмель»", "Tuman", "«Лиса-2»"): a capitalised word, maybe with a
# number. The report says they are callsigns in three ways:
# - the word that announces them, singular or plural, then one or a list ("позывные «Шмель» и
#   «Оса»", "Позывные: «Бархан» (ведущий), «Лиса-2»", "indicatifs « Berkut-5 » et « Tuman »");
# - in quotes just after a frequency (a nine-line's line 2: "38,900 «Вереск»");
# - in quotes at the start of a line, before a colon: the speaker of a radio transcript
#   ("«Двадцатый»: «Принял…»").
# A name so introduced is a callsign wherever else the report writes it ("Tuman : reçu").
_NAME = r"[A-ZА-ЯЁІЇЄҐ][A-Za-zА-Яа-яЁёІіЇїЄєҐґ'’]{1,19}(?:-[0-9A-Za-zА-Яа-яЁё]{1,4})?"
_QUOTED_NAME = rf"«{_GAP}?(?P<name>{_NAME}){_GAP}?»"
_NAMED_CUE_RE = re.compile(
    r"(?i:\bcall[- ]?signs?|\bindicatifs?|позывн(?:ой|ые|ых|ым)|позивн(?:ий|і|их))"
    rf"{_GAP}*:?{_GAP}*(?:{_QUOTED_NAME}|(?P<bare>{_NAME})(?![\w-]))"
)
_NEXT_NAME_RE = re.compile(
    rf"{_GAP}*(?:\([^()\n]{{0,30}}\){_GAP}*)?(?:,|и|і|й|та|et|and){_GAP}*{_QUOTED_NAME}"
)
_AFTER_FREQUENCY_RE = re.compile(
    rf"(?<![\w.,])[0-9]{{2,3}}[.,][0-9]{{2,3}}(?:{_GAP}?{_UNIT})?{_GAP}*{_QUOTED_NAME}"
)
_SPEAKER_RE = re.compile(rf"^{_GAP}*{_QUOTED_NAME}{_GAP}?:", re.MULTILINE)


def find_named_callsigns(text: str) -> list[Span]:
    """Callsigns that are names, where the report says so, and every other occurrence of
    each (see the comment above)."""
    found: dict[tuple[int, int], str] = {}

    def keep(match: re.Match[str], group: str = "name") -> None:
        found[(match.start(group), match.end(group))] = match[group]

    for cue in _NAMED_CUE_RE.finditer(text):
        keep(cue, "name" if cue["name"] else "bare")
        at = cue.end()
        while (following := _NEXT_NAME_RE.match(text, at)) is not None:
            keep(following)
            at = following.end()
    for match in (*_AFTER_FREQUENCY_RE.finditer(text), *_SPEAKER_RE.finditer(text)):
        keep(match)
    for name in set(found.values()):
        for again in re.finditer(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text):
            found[(again.start(), again.end())] = name
    return [Span(start, end, name, "comms") for (start, end), name in sorted(found.items())]
