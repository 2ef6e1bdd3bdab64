"""Latitude/longitude pairs: decimal degrees, degrees-decimal-minutes, degrees-minutes-seconds and
the compact ``DDMMSS.ssN DDDMMSS.ssE`` form, normalised to signed decimal degrees.

A pair is reported only when both halves parse: a lone "48.85N" is too weak a signal.

Pure (standard library and ``schemas`` only): a finder any task can share.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterator

from schemas.v1 import Entity

__all__ = ["find_latlons"]

_SP = "[ \u00a0\u202f]?"
_SPACES = "[ \u00a0\u202f]"
_DEG = "[°º˚]"
_MIN = "['′’]"
_SEC = "(?:\"|″|''|′′|’’|”)"
_FRAC = r"(?:\.[0-9]+)?"

# [0-9] rather than \d everywhere: \d also matches Arabic-Indic digits.
_DMS = (
    rf"[0-9]{{1,3}}{_SP}{_DEG}{_SP}[0-9]{{1,2}}{_SP}{_MIN}{_SP}[0-9]{{1,2}}{_FRAC}{_SP}(?:{_SEC})?"
)
_DDM = rf"[0-9]{{1,3}}{_SP}{_DEG}{_SP}[0-9]{{1,2}}{_FRAC}{_SP}(?:{_MIN})?"
# Without a decimal point or a degree sign "48N" is more likely a label than a coordinate.
_DD = rf"(?:[0-9]{{1,3}}\.[0-9]+(?:{_SP}{_DEG})?|[0-9]{{1,3}}{_SP}{_DEG})"
_COMPACT = rf"[0-9]{{6,7}}{_FRAC}"
_BODY = f"(?:{_DMS}|{_DDM}|{_DD}|{_COMPACT})"
# O (ouest) is the French letter for west.
_HEMI = "[NSEWO]"
_HALF = f"(?:{_HEMI}{_SP}{_BODY}|{_BODY}{_SP}{_HEMI})"

_HEMI_PAIR_RE = re.compile(
    rf"(?<![\w.+\-−])(?P<first>{_HALF}){_SPACES}*[,;/]?{_SPACES}*(?P<second>{_HALF})"
    r"(?!\w|\.[0-9])"
)

# Signed decimal degrees with no hemisphere letter look like any two numbers, so they need at
# least two decimals each and a comma or space between them. A decimal comma is not accepted
# here: "48,85, 2,29" cannot be split reliably.
_BARE_PAIR_RE = re.compile(
    rf"(?<![\w.+\-−])(?P<lat>[-+−]?[0-9]{{1,2}}\.[0-9]{{2,}}){_DEG}?"
    rf"(?:{_SPACES}*,{_SPACES}*|{_SPACES}+)"
    rf"(?P<lon>[-+−]?[0-9]{{1,3}}\.[0-9]{{2,}}){_DEG}?"
    rf"(?!\w|{_DEG}|\.[0-9])"
)

_DMS_PARTS = re.compile(
    rf"(?P<deg>[0-9]{{1,3}}){_DEG}(?P<min>[0-9]{{1,2}}){_MIN}(?P<sec>[0-9]{{1,2}}{_FRAC})(?:{_SEC})?"
)
_DDM_PARTS = re.compile(rf"(?P<deg>[0-9]{{1,3}}){_DEG}(?P<min>[0-9]{{1,2}}{_FRAC})(?:{_MIN})?")
_DD_PARTS = re.compile(rf"(?P<deg>[0-9]{{1,3}}{_FRAC}){_DEG}?")
_COMPACT_PARTS = re.compile(rf"(?P<digits>[0-9]{{6,7}})(?P<frac>{_FRAC})")
_BLANKS = re.compile(_SPACES)


def find_latlons(text: str) -> list[Entity]:
    """Every lat/long pair in ``text``, in order, latitude first in ``value``."""
    found = [
        _entity(match, *position)
        for match, position in _scan(_HEMI_PAIR_RE, text, _hemisphere_position)
    ]
    # Hemisphere pairs come out in order and disjoint, so the only one a bare pair can overlap
    # is the last one starting before the bare pair ends.
    starts = [entity.start for entity in found]
    ends = [entity.end for entity in found]
    for match, position in _scan(_BARE_PAIR_RE, text, _bare_position):
        index = bisect.bisect_left(starts, match.end())
        if index == 0 or ends[index - 1] <= match.start():
            found.append(_entity(match, *position))
    found.sort(key=lambda entity: entity.start)
    return found


def _scan(
    pattern: re.Pattern[str],
    text: str,
    parse: Callable[[re.Match[str]], tuple[float, float] | None],
) -> Iterator[tuple[re.Match[str], tuple[float, float]]]:
    # finditer would resume after a rejected match, so "12.5N 48.85N 2.29E" (two latitudes
    # first) would hide the valid pair that starts inside it; resume one character later instead.
    pos = 0
    while (match := pattern.search(text, pos)) is not None:
        position = parse(match)
        if position is None:
            pos = match.start() + 1
        else:
            yield match, position
            pos = match.end()


def _bare_position(match: re.Match[str]) -> tuple[float, float] | None:
    lat, lon = _signed(match["lat"]), _signed(match["lon"])
    if abs(lat) > 90.0 or abs(lon) > 180.0:
        return None
    return lat, lon


def _hemisphere_position(match: re.Match[str]) -> tuple[float, float] | None:
    return _hemisphere_pair(match["first"], match["second"])


def _entity(match: re.Match[str], lat: float, lon: float) -> Entity:
    # Adding 0.0 turns a rounded -0.0 into 0.0 so "0.00S" does not print as "-0.000000".
    lat = round(lat, 6) + 0.0
    lon = round(lon, 6) + 0.0
    return Entity(
        type="Location",
        text=match.group(0),
        start=match.start(),
        end=match.end(),
        form="latlon",
        value=f"{lat:.6f},{lon:.6f}",
        lat=lat,
        lon=lon,
    )


def _signed(number: str) -> float:
    # U+2212 MINUS SIGN comes out of word processors; float() does not know it.
    return float(number.replace("−", "-"))


def _hemisphere_pair(first: str, second: str) -> tuple[float, float] | None:
    halves = [_half(first), _half(second)]
    if halves[0] is None or halves[1] is None:
        return None
    (letter_a, body_a), (letter_b, body_b) = halves[0], halves[1]
    if letter_a in "EWO" and letter_b in "NS":
        # Longitude written first: still one position, reported latitude first.
        letter_a, body_a, letter_b, body_b = letter_b, body_b, letter_a, body_a
    if letter_a not in "NS" or letter_b not in "EWO":
        return None
    lat = _angle(body_a, compact_degree_digits=2)
    lon = _angle(body_b, compact_degree_digits=3)
    if lat is None or lon is None or lat > 90.0 or lon > 180.0:
        return None
    return (-lat if letter_a == "S" else lat, -lon if letter_b in "WO" else lon)


def _half(written: str) -> tuple[str, str] | None:
    if written[0] in "NSEWO":
        return written[0], _BLANKS.sub("", written[1:])
    if written[-1] in "NSEWO":
        return written[-1], _BLANKS.sub("", written[:-1])
    return None


def _angle(body: str, compact_degree_digits: int) -> float | None:
    """Unsigned decimal degrees of one half, or None when minutes/seconds are out of range."""
    parts = _DMS_PARTS.fullmatch(body)
    if parts is not None:
        return _combine(parts["deg"], parts["min"], parts["sec"])
    parts = _DDM_PARTS.fullmatch(body)
    if parts is not None:
        return _combine(parts["deg"], parts["min"], "0")
    parts = _DD_PARTS.fullmatch(body)
    if parts is not None:
        return float(parts["deg"])
    parts = _COMPACT_PARTS.fullmatch(body)
    # Compact latitude is DDMMSS, longitude DDDMMSS: the digit count tells them apart.
    if parts is not None and len(parts["digits"]) == compact_degree_digits + 4:
        digits = parts["digits"]
        degrees, rest = digits[:compact_degree_digits], digits[compact_degree_digits:]
        return _combine(degrees, rest[:2], rest[2:] + parts["frac"])
    return None


def _combine(degrees: str, minutes: str, seconds: str) -> float | None:
    mins, secs = float(minutes), float(seconds)
    if mins >= 60.0 or secs >= 60.0:
        return None
    return int(degrees) + mins / 60.0 + secs / 3600.0
