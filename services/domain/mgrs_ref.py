"""MGRS grid references (``31U DQ 48251 11932``, ``4QFJ12345678``), checked by the ``mgrs`` package.

Letters are matched in upper case only: lower-case zone/band/square sequences ("4qfj", "12abc")
turn up in ordinary prose, identifiers and hashes far more often than in grid references, and
every MGRS-producing tool and doctrine example writes them in capitals.

Pure (standard library, the stateless ``mgrs`` converter and ``schemas`` only): a finder any
task can share.
"""

from __future__ import annotations

import re

import mgrs

from schemas.v1 import Entity

__all__ = ["find_grid_shapes", "find_mgrs"]

_GAP = "[ \u00a0\u202f]"

# Zone 1-60 (leading zero allowed), band C-X and square column A-Z without I/O, row A-V without
# I/O. Digits are either one even run or two runs of equal length separated by a space; the
# parity and length checks happen in Python so that a rejected odd run cannot fall back to a
# shorter, wrongly accepted reference. [0-9] excludes non-ASCII digits that \d would accept.
_MGRS_RE = re.compile(
    rf"(?<!\w)(?P<zone>0?[1-9]|[1-5][0-9]|60)(?P<gap1>{_GAP}?)(?P<band>[C-HJ-NP-X])"
    rf"(?P<gap2>{_GAP}?)(?P<square>[A-HJ-NP-Z][A-HJ-NP-V])"
    rf"(?:{_GAP}?(?P<easting>[0-9]{{1,5}}){_GAP}(?P<northing>[0-9]{{1,5}})"
    rf"|{_GAP}?(?P<digits>[0-9]{{1,10}}))?"
    r"(?!\w)"
)

_BANDS = "CDEFGHJKLMNPQRSTUVWX"

# The converter holds no per-call state; building it once keeps the scan cheap.
_CONVERTER = mgrs.MGRS()


def find_mgrs(text: str) -> list[Entity]:
    """Every MGRS reference in ``text`` that the ``mgrs`` package can convert, in order."""
    found: list[Entity] = []
    for match in _MGRS_RE.finditer(text):
        entity = _to_entity(match)
        if entity is not None:
            found.append(entity)
    return found


def find_grid_shapes(text: str) -> list[tuple[int, int]]:
    """Grid references written wrongly (an odd digit count, eastings and northings of unequal
    length: ``36T VS 8010 814``) as ``(start, end)``: no position can be read from them, so they
    are no entity, but a translation must copy them as they are — an analyst reads the slip
    in the original's form, not one a model has "corrected"."""
    found = []
    for match in _MGRS_RE.finditer(text):
        digits = (match["easting"] or "") + (match["northing"] or "") or (match["digits"] or "")
        # Zone and band written together ("36T VS"): "1 TRM 10000" is a count and a truck.
        if len(digits) >= 4 and not match["gap1"] and _to_entity(match) is None:
            found.append((match.start(), match.end()))
    return found


def _to_entity(match: re.Match[str]) -> Entity | None:
    easting, northing = match["easting"], match["northing"]
    if easting is not None and northing is not None:
        if len(easting) != len(northing):
            return None
        digits = easting + northing
    else:
        digits = match["digits"] or ""
    if len(digits) % 2:
        return None
    if not digits and (match["gap1"] or match["gap2"]):
        # "11E BP" is a unit name (11e brigade parachutiste) in capitals, not a 100 km square:
        # a bare square is only accepted written compact.
        return None
    canonical = f"{int(match['zone'])}{match['band']}{match['square']}{digits}"
    position = _lat_lon(canonical, match["band"], len(digits) // 2)
    if position is None:
        return None
    lat, lon = position
    return Entity(
        type="Location",
        text=match.group(0),
        start=match.start(),
        end=match.end(),
        form="mgrs",
        value=canonical,
        lat=lat,
        lon=lon,
    )


def _lat_lon(canonical: str, band: str, digit_pairs: int) -> tuple[float, float] | None:
    try:
        lat, lon = _CONVERTER.toLatLon(canonical)
    except Exception:
        # The native converter raises its own MGRSError, but also ValueError/TypeError on
        # inputs it does not expect; any failure means "not a usable reference".
        return None
    if not _inside_band(band, float(lat), digit_pairs):
        return None
    # Adding 0.0 turns a rounded -0.0 into 0.0 so equal positions compare and print alike.
    return round(float(lat), 6) + 0.0, round(float(lon), 6) + 0.0


def _inside_band(band: str, lat: float, digit_pairs: int) -> bool:
    """Whether ``lat`` lies in the latitude band, with the converter's own tolerance.

    A square letter that does not meet the band (``10SDQ``) makes the converter emit a
    RuntimeWarning and still return a position, instead of raising. Under "warnings as errors"
    that warning raises and the reference is rejected above; this check rejects the same
    references when warnings are merely printed, so the outcome does not depend on the caller's
    warning filters. Tolerance (10**-precision degrees) and the half-degree polar extensions of
    bands C and X match the converter's behaviour, checked against it on random references.
    """
    index = _BANDS.index(band)
    low = -80.5 if band == "C" else -80.0 + 8.0 * index
    high = 84.5 if band == "X" else -72.0 + 8.0 * index
    tolerance = 10.0**-digit_pairs
    return low - tolerance <= lat <= high + tolerance
