"""Radio frequencies (``145.500 MHz``, ``30,025 МГц``) and callsigns (``VIPER 2-1`` after
"callsign", "indicatif", "позывной").

Pure (standard library and ``services.domain.spans`` only): a finder any task can share.
"""

from __future__ import annotations

import re

from services.domain.spans import Span

__all__ = ["find_comms"]

_GAP = "[ \u00a0\u202f]"

_FREQUENCY_RE = re.compile(
    rf"(?<![\w.,])[0-9]{{1,5}}(?:[.,][0-9]{{1,4}})?{_GAP}?(?:[kMG]Hz|Hz|МГц|кГц|ГГц)(?!\w)"
)
_CALLSIGN_RE = re.compile(
    r"(?i:\bcall[- ]?sign|\bindicatif|\bc/s|позывной|позивний)\s*[:«\"'“]?\s*"
    r"(?P<callsign>[A-Z0-9][A-Za-z0-9]*(?:[ -][0-9]{1,2}(?:-[0-9]{1,2})?)?)"
)


def find_comms(text: str) -> list[Span]:
    """Radio frequencies (``145.500 MHz``) and the callsign after "callsign"/"indicatif"."""
    spans = [Span(m.start(), m.end(), m.group(0), "comms") for m in _FREQUENCY_RE.finditer(text)]
    spans.extend(
        Span(m.start("callsign"), m.end("callsign"), m["callsign"], "comms")
        for m in _CALLSIGN_RE.finditer(text)
    )
    return spans
