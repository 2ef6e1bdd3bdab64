"""Military date-time groups (``DDHHMM[SS]Z MON YY[YY]``), normalised to ISO-8601 UTC.

Month and year may be missing from the written form; they are then inferred from the report's
``observed_at`` (flags ``month_inferred``/``year_inferred``). A DTG in zone J (local time) cannot
be placed on the UTC time line without knowing where the writer was: it is kept, with no value.

Pure (standard library and ``schemas`` only): ingest reads a DTG header with it, extract and
summarise read the report's.
"""

from __future__ import annotations

import datetime as dt
import re

from schemas.v1 import Entity

__all__ = ["find_dtgs", "find_monthless_dtgs", "find_zoned_times"]

_UTC = dt.UTC

# Zone letters skip J (local time); west of Greenwich starts at N.
_ZONE_OFFSET_HOURS: dict[str, int] = {
    **{letter: hours for hours, letter in enumerate("ABCDEFGHI", start=1)},
    **{letter: hours for hours, letter in enumerate("KLM", start=10)},
    **{letter: -hours for hours, letter in enumerate("NOPQRSTUVWXY", start=1)},
    "Z": 0,
}

# French abbreviations sit beside the English ones because French reports mix both.
_MONTHS: dict[str, int] = {
    "JAN": 1,
    "FEB": 2,
    "FEV": 2,
    "FÉV": 2,
    "MAR": 3,
    "APR": 4,
    "AVR": 4,
    "MAY": 5,
    "MAI": 5,
    "JUN": 6,
    "JUIN": 6,
    "JUL": 7,
    "JUIL": 7,
    "AUG": 8,
    "AOU": 8,
    "AOÛ": 8,
    "SEP": 9,
    "SEPT": 9,
    "OCT": 10,
    "NOV": 11,
    "DEC": 12,
    "DÉC": 12,
}

# Longest names first so that JUIN is not cut to JUN+"IN" by the alternation.
_MONTH_ALT = "|".join(sorted(_MONTHS, key=len, reverse=True))
_GAP = "[ \u00a0\u202f]"
_SP = f"{_GAP}?"

# [0-9] rather than \d: \d would accept Arabic-Indic digits, which int() would then parse.
# Four-digit years are limited to 19xx/20xx so that a count written after the month ("NOV 1234")
# is not read as a year. The lookarounds use Unicode \w so a DTG glued to Cyrillic letters is
# still inside a longer token. A day written apart from the time ("14 0615Z", "25 143059Z") is
# not one when the six digits after the gap are a whole day-hour-minute group themselves:
# "FAUCON 23 140615CAPR26" is a callsign's number then a DTG, not day 23 at 14:06:15.
_WHOLE_DAY_TIME = "(?:0[1-9]|[12][0-9]|3[01])(?:[01][0-9]|2[0-3])[0-5][0-9]"
_DTG_RE = re.compile(
    rf"(?<!\w)(?P<day>[0-9]{{2}})(?:{_GAP}(?!{_WHOLE_DAY_TIME}))?"
    rf"(?P<hour>[0-9]{{2}})(?P<minute>[0-9]{{2}})"
    rf"(?P<second>[0-9]{{2}})?(?P<zone>[A-Za-z])"
    rf"(?:{_SP}(?P<month>(?i:{_MONTH_ALT}))"
    rf"(?:{_SP}(?P<year>(?:19|20)[0-9]{{2}}|[0-9]{{2}}))?)?"
    r"(?!\w)"
)


def find_dtgs(text: str, observed_at: dt.datetime | None = None) -> list[Entity]:
    """Every valid DTG in ``text``, in order of appearance.

    ``observed_at`` (naive means UTC) anchors a missing month or year; without it a DTG with no
    month is too ambiguous to report, and a missing year is taken from the current UTC year.
    """
    anchor = _as_utc(observed_at) if observed_at is not None else None
    found: list[Entity] = []
    for match in _DTG_RE.finditer(text):
        entity = _to_entity(match, anchor)
        if entity is not None:
            found.append(entity)
    return found


def find_monthless_dtgs(text: str) -> list[tuple[int, int]]:
    """The spans of DTGs written without a month (``092200B``): day, hour and minute in range
    and an upper-case zone letter. No value without the report's observed time, but a token to
    keep byte for byte all the same (a translation must not rewrite it)."""
    spans: list[tuple[int, int]] = []
    for match in _DTG_RE.finditer(text):
        if match["month"] is not None or not match["zone"].isupper():
            continue
        day, hour, minute = int(match["day"]), int(match["hour"]), int(match["minute"])
        second = int(match["second"] or 0)
        if 1 <= day <= 31 and hour <= 24 and minute <= 59 and second <= 59:
            spans.append((match.start(), match.end()))
    return spans


# A time with its zone letter and no day ("at 0620C", "الساعة 1520Z"): a DTG's time part
# written alone. Upper-case zone only (a lower-case letter after four digits is a unit or a
# part-number suffix), and not glued to a longer token.
_ZONED_TIME_RE = re.compile(r"(?<![\w/.,:-])(?P<hour>[0-9]{2})(?P<minute>[0-9]{2})[A-Z](?!\w)")


def find_zoned_times(text: str) -> list[tuple[int, int]]:
    """The spans of times written with their zone letter (``1520Z``, ``0620C``): hour and
    minute in range. Kept byte for byte like a DTG; no value (no day to place it)."""
    return [
        (m.start(), m.end())
        for m in _ZONED_TIME_RE.finditer(text)
        if int(m["hour"]) <= 24 and int(m["minute"]) <= 59
    ]


def _as_utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=_UTC)
    return moment.astimezone(_UTC)


def _to_entity(match: re.Match[str], anchor: dt.datetime | None) -> Entity | None:
    zone = match["zone"]
    month_text = match["month"]
    if month_text is None and (anchor is None or not zone.isupper()):
        # Only the observed time can place a DTG that has no month; and without a month name to
        # confirm it, a lower-case letter after six digits is more often a part number suffix.
        return None
    day = int(match["day"])
    clock = (int(match["hour"]), int(match["minute"]), int(match["second"] or 0))
    if not 1 <= day <= 31 or clock[0] > 23 or clock[1] > 59 or clock[2] > 59:
        return None

    zone = zone.upper()
    local = zone == "J"
    # Zone J is resolved as if UTC only to check that the date exists; its value is dropped.
    offset = 0 if local else _ZONE_OFFSET_HOURS[zone]
    flags: list[str] = []
    when: dt.datetime | None
    if month_text is None:
        assert anchor is not None
        when = _nearest(_month_candidates(anchor), day, clock, offset, anchor)
        flags.append("month_inferred")
    else:
        month = _MONTHS[month_text.upper()]
        year_text = match["year"]
        if year_text is not None:
            year = int(year_text) + (2000 if len(year_text) == 2 else 0)
            when = _to_utc(year, month, day, clock, offset)
        elif anchor is not None:
            years = [(anchor.year + delta, month) for delta in (-1, 0, 1)]
            when = _nearest(years, day, clock, offset, anchor)
            flags.append("year_inferred")
        else:
            when = _to_utc(dt.datetime.now(_UTC).year, month, day, clock, offset)
            flags.append("year_inferred")
    if when is None:
        return None

    if local:
        value = None
        flags = ["local_time"]
    else:
        value = (
            f"{when.year:04d}-{when.month:02d}-{when.day:02d}"
            f"T{when.hour:02d}:{when.minute:02d}:{when.second:02d}Z"
        )
    return Entity(
        type="DateTime",
        text=match.group(0),
        start=match.start(),
        end=match.end(),
        form="dtg",
        value=value,
        flags=flags,
    )


def _month_candidates(anchor: dt.datetime) -> list[tuple[int, int]]:
    index = anchor.year * 12 + anchor.month - 1
    shifted = [divmod(index + delta, 12) for delta in (-1, 0, 1)]
    return [(year, zero_based + 1) for year, zero_based in shifted]


def _nearest(
    candidates: list[tuple[int, int]],
    day: int,
    clock: tuple[int, int, int],
    offset: int,
    anchor: dt.datetime,
) -> dt.datetime | None:
    best: dt.datetime | None = None
    for year, month in candidates:
        when = _to_utc(year, month, day, clock, offset)
        if when is not None and (best is None or abs(when - anchor) < abs(best - anchor)):
            best = when
    return best


def _to_utc(
    year: int, month: int, day: int, clock: tuple[int, int, int], offset: int
) -> dt.datetime | None:
    try:
        local = dt.datetime(year, month, day, *clock, tzinfo=_UTC)
        return local - dt.timedelta(hours=offset)
    except (ValueError, OverflowError):
        # Day not in that month (31 APR, 29 FEB of a common year) or a year out of range.
        return None
