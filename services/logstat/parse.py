"""The deterministic reading of a report: LOGSTAT lines, or the clear statements of free text.

A LOGSTAT is a title (``LOGSTAT``, ``CR LOG``, ``ЛОГИСТИЧЕСКОЕ ДОНЕСЕНИЕ``, ``تقرير لوجستي``…)
and lettered or numbered lines (``A.``, ``1)``, ``Б.``, ``ب.``; also all on one line: ``A. …
B. … C. …``): the reporting unit, the DTG, then one line per class of supply with quantities,
units of measure, states and a colour. Every number of such a report is either read (a
quantity, the DTG, a calibre, a designation, a time) or left unexplained; a report with none
left is *complete*, and the model has nothing to add to it.

Free text is read sentence by sentence, keeping only what cannot be misread (see
:mod:`services.logstat.reading`); the model reads the rest.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from schemas.v1 import Entity
from services.domain.comms import find_comms
from services.domain.designations import find_equipment, find_unit_designations
from services.domain.patterns import find_pattern_entities
from services.logstat import vocabulary as v
from services.logstat.items import Quantity, Reading
from services.logstat.reading import Context, disjoint, read_segment, within

__all__ = ["has_signal", "parse_report", "report_context"]

Span = tuple[int, int]

_LABEL = re.compile(
    r"(?:(?:line|ligne|строка|рядок|пункт|سطر|البند)\s*)?"
    r"(?P<label>[0-9\u0660-\u0669]{1,2}|[A-Za-z]|[А-ЯЁІЇЄҐа-яёіїєґ]|[\u0621-\u064a]ـ?)"
    r"\s*(?:[.:\-–](?=\s)|\))\s*",
    re.IGNORECASE,
)
_FIRST_LABELS = frozenset({"a", "1", "а", "أ", "ا", "١"})
_INLINE_LABEL = re.compile(r"(?:(?<=\s)|^)(?P<label>[A-Z]|[0-9]{1,2})[.)](?=\s)")
_SENTENCE_END = re.compile(
    r"(?<=[.!?؟])\s+(?=[A-ZÀ-ÖØ-ÞА-ЯЁІЇЄҐ\u0621-\u064a0-9\u0660-\u0669])|\n+"
)
_TIME = re.compile(
    r"(?<!\w)(?:(?:[01]?[0-9]|2[0-3])[:h][0-5][0-9]|(?:[01][0-9]|2[0-3])[0-5][0-9][ ]?"
    r"(?:z|zulu|hrs?|h|l|j))(?!\w)",
    re.IGNORECASE,
)
_ORDINAL = re.compile(
    r"(?<!\w)[0-9]{1,3}(?:e|er|re|ère|ème|eme|de|nd|st|rd|th|-?й|-?я|-?го|-?ї|-?а)(?!\w)"
)
_DATE = re.compile(r"(?<!\w)[0-9]{1,2}[./][0-9]{1,2}[./][0-9]{2,4}(?!\w)")
_DURATION = re.compile(
    r"(?<!\w)[0-9]{1,3} ?(?:h|hrs?|hours?|heures?|ч|час\w*|год\w*|ساعة)(?!\w)", re.IGNORECASE
)
_BULLET = ("-", "•", "*", "–", "—")
_KEYED = re.compile(r"[^:\n]{1,40}:\s*\S")
_TRIM = " \t.,;:–—-/()"


def has_signal(text: str) -> bool:
    """Whether ``text`` says anything about supplies: a logistics title, a class of supply, a
    supply word (fuel, ammunition, water, rations… in FR/EN/RU/UK/AR) or a number with a unit
    of measure that only stocks have (litres, m³, rounds, boxes, days of supply…)."""
    if v.HEADERS.search(text) or v.CLASS_CODE.search(text):
        return True
    if any(h.value not in ("vehicles", "personnel") for h in v.ITEMS.find(text)):
        return True
    return _STOCK_QUANTITY.search(text) is not None


_STOCK_UNITS = r"l|litres?|liters?|m3|m³|rds|rounds|cartouches|caisses|boxes|dos|tonnes|" + (
    r"литр\w*|літр\w*|л|патрон\w*|набо\w*|ящик\w*|тонн\w*|لتر\w*|طلقة|طلقات|صناديق|طن"
)
_STOCK_QUANTITY = re.compile(rf"[0-9\u0660-\u0669]\s?(?:{_STOCK_UNITS})(?!\w)", re.IGNORECASE)


def report_context(text: str, observed_at: dt.datetime | None = None) -> Context:
    patterns = find_pattern_entities(text, observed_at)
    excluded: list[Span] = [(e.start, e.end) for e in patterns]
    excluded += [(s.start, s.end) for s in find_equipment(text)]
    excluded += [(s.start, s.end) for s in find_unit_designations(text)]
    excluded += [(s.start, s.end) for s in find_comms(text)]
    calibres = [v.calibre_hit(m) for m in v.CALIBRE.finditer(text)]
    classes = [
        v.Hit(m.start(), m.end(), v.class_of(m.group("code"))) for m in v.CLASS_CODE.finditer(text)
    ]
    excluded += [(h.start, h.end) for h in (*calibres, *classes)]
    for pattern in (_TIME, _ORDINAL, _DATE, _DURATION):
        excluded += [(m.start(), m.end()) for m in pattern.finditer(text)]
    return Context(
        text=text,
        excluded=disjoint(excluded),
        items=v.ITEMS.find(text),
        calibres=calibres,
        classes=classes,
        statuses=v.STATUSES.find(text),
        ratings=v.RATINGS.find(text),
    )


@dataclass(frozen=True)
class _Line:
    start: int  # of its content, after the label
    end: int
    label: str | None


def parse_report(
    text: str, observed_at: dt.datetime | None = None, ctx: Context | None = None
) -> Reading:
    """Everything the patterns read in ``text`` (a report's normalised text); ``ctx``: its
    :func:`report_context`, when the caller has it already."""
    if not has_signal(text):
        return Reading(quantities=[])
    ctx = ctx or report_context(text, observed_at)
    lines = _lines(text)
    dtgs = [e for e in find_pattern_entities(text, observed_at) if e.form == "dtg"]
    header = next(iter(v.HEADERS.find(text)), None)
    labelled = [line for line in lines if line.label is not None]
    keyed = [line for line in lines if _KEYED.match(text, line.start, line.end)]
    line_format = (header is not None and len(labelled) + len(keyed) >= 2) or len(labelled) >= 3
    unit: tuple[str, Span] | None = None
    dtg: Entity | None = None
    quantities: list[Quantity] = []
    confusions: list[str] = []
    malformed: list[str] = []
    complete = line_format
    first_labelled = labelled[0] if labelled else None
    previous: Quantity | None = None
    section: str | None = None  # the state a heading ("Besoins :") gives the bullets under it
    for line in lines if line_format else _sentences(text):
        if line_format and header is not None and line.start <= header.start < line.end:
            unit = unit or _unit_after_header(text, header, line, dtgs)
            continue
        keyed_unit = v.UNIT_KEYS.match(text, line.start, line.end)
        if keyed_unit is not None:
            unit = _span_text(text, keyed_unit.end(), line.end) or unit
            continue
        if line_format and v.DTG_KEYS.match(text, line.start, line.end):
            dtg = dtg or next((d for d in dtgs if line.start <= d.start < line.end), None)
            if dtg is not None:
                continue
        written = text[line.start : line.end].strip()
        if line_format and written.endswith(":") and line.label is None:
            cues = within(ctx.statuses, line.start, line.end)
            section = cues[0].value if cues else None
            continue
        if not written.startswith(_BULLET):
            section = None
        remarks = v.REMARK_KEYS.match(text, line.start, line.end) is not None
        reading = read_segment(
            ctx,
            line.start,
            line.end,
            line=line_format and not remarks,
            before=previous,
            status=section,
        )
        if (
            line_format
            and line is first_labelled
            and not reading.quantities
            and not _mentions_supply(ctx, line)
        ):
            unit = unit or _span_text(text, line.start, line.end)
            continue
        quantities += reading.quantities
        previous = reading.quantities[-1] if reading.quantities else previous
        confusions += reading.confusions
        malformed += [n.text for n in reading.malformed]
        if reading.unexplained:
            complete = False
    if unit is None:
        designations = find_unit_designations(text)
        if designations:
            first = designations[0]
            unit = (first.text, (first.start, first.end))
    dtg = dtg or (dtgs[0] if dtgs else None)
    return Reading(
        quantities=quantities,
        unit=unit[0] if unit else None,
        unit_span=unit[1] if unit else None,
        dtg=(dtg.value or dtg.text) if dtg else None,
        dtg_text=dtg.text if dtg else None,
        line_format=line_format,
        complete=complete and bool(quantities),
        signal=True,
        confusions=confusions,
        malformed=malformed,
    )


def _lines(text: str) -> list[_Line]:
    """Non-empty lines, their labels taken off; a single line of inline labels (``A. … B. …
    C. …``) is cut at them."""
    found: list[_Line] = []
    position = 0
    for raw in text.split("\n"):
        start, end = position, position + len(raw)
        position = end + 1
        if not raw.strip():
            continue
        inline = _inline_segments(text, start, end)
        if inline:
            found += inline
            continue
        m = _LABEL.match(text, start, end)
        if m is not None and m.end() < end:
            found.append(_Line(m.end(), end, m.group("label").casefold()))
        else:
            found.append(_Line(start, end, None))
    return found


def _inline_segments(text: str, start: int, end: int) -> list[_Line]:
    marks = list(_INLINE_LABEL.finditer(text, start, end))
    run: list[re.Match[str]] = []
    for m in marks:
        if not run:
            if m.group("label") in ("A", "1"):
                run = [m]
            continue
        if _successor(run[-1].group("label")) == m.group("label"):
            run.append(m)
    if len(run) < 3:
        return []
    pieces = [_Line(start, run[0].start(), None)] if text[start : run[0].start()].strip() else []
    for m, nxt in zip(run, [*run[1:], None], strict=True):
        stop = nxt.start() if nxt is not None else end
        pieces.append(_Line(m.end() + 1, stop, m.group("label").casefold()))
    return pieces


def _successor(label: str) -> str:
    return str(int(label) + 1) if label.isdigit() else chr(ord(label) + 1)


def _sentences(text: str) -> list[_Line]:
    found: list[_Line] = []
    position = 0
    for m in [*_SENTENCE_END.finditer(text), None]:
        stop = m.start() if m is not None else len(text)
        if text[position:stop].strip():
            found.append(_Line(position, stop, None))
        position = m.end() if m is not None else len(text)
    return found


def _span_text(text: str, start: int, end: int) -> tuple[str, Span] | None:
    while start < end and text[start] in _TRIM:
        start += 1
    while end > start and text[end - 1] in _TRIM:
        end -= 1
    return (text[start:end], (start, end)) if end > start else None


def _unit_after_header(
    text: str, header: v.Hit, line: _Line, dtgs: list[Entity]
) -> tuple[str, Span] | None:
    """``LOGSTAT 2-7 IN 251800ZNOV26``: what follows the title on its line, up to a DTG."""
    stop = next((d.start for d in dtgs if header.end <= d.start < line.end), line.end)
    found = _span_text(text, header.end, stop)
    if found is None or len(found[0]) > 60:
        return None
    return found


def _mentions_supply(ctx: Context, line: _Line) -> bool:
    hits = (ctx.items, ctx.classes, ctx.calibres, ctx.statuses)
    return any(within(found, line.start, line.end) for found in hits)
