"""Radio frequencies (``145.500 MHz``, ``30,025 МГц``) and callsigns (``VIPER 2-1`` after
"callsign", "indicatif", "позывной").

Pure (standard library and ``services.domain.spans`` only): a finder any task can share.
"""

from __future__ import annotations

import re

from services.domain.spans import Span

__all__ = ["find_bare_frequencies", "find_comms"]

_GAP = "[ \u00a0\u202f]"

_FREQUENCY_RE = re.compile(
    rf"(?<![\w.,])[0-9]{{1,5}}(?:[.,][0-9]{{1,4}})?{_GAP}?"
    r"(?:[kMG]Hz|Hz|[KMG]HZ|МГц|кГц|ГГц|МГЦ)(?!\w)"
)

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
_UNIT_AFTER_RE = re.compile(rf"{_CHANNEL}{_GAP}+(?:ميغاهرتز|ميجاهرتز|ميغا هرتز)")

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
