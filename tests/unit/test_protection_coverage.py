"""The protected-token detectors against the gold set's ``protected_tokens``, every report of
both splits: the recall reached, the tokens protected that the gold does not list, and the
reference translations the protected check would flag (correct translations it must leave be).

The bounds are the figures measured (``python -m services.evaluation.protection``): a change
that loses a gold token, protects more words the gold does not list, or makes a correct
translation look altered fails here.
"""

from __future__ import annotations

from services.domain.callsigns import find_callsigns, find_operation_names, find_task_groups
from services.domain.comms import find_bare_frequencies
from services.domain.compounds import find_plural_equipment, find_variant_names
from services.domain.designations import find_unit_names
from services.domain.identifiers import (
    find_labelled_numbers,
    find_mixed_acronyms,
    find_orders,
    find_phone_numbers,
    find_references,
    find_slashed_acronyms,
    find_stock_numbers,
)
from services.evaluation.gold import load_gold
from services.evaluation.protection import coverage
from services.translate.glossary import Glossary
from services.translate.protect import altered, protected_spans

PROTECTED = Glossary.load(Glossary.default_directory()).protected
GOLD = load_gold()

#: Measured over the 152 reports: 805 of the 851 gold tokens found whole (0.946; 796 before
#: callsigns that are names, "позывные «Шмель» и «Оса»"; 792 before
#: grids written wrongly were kept whole, 787 before Latin codes in Arabic and Cyrillic
#: reports counted as acronyms; 725, 0.852, before the
#: zone-letter times, unit-less frequencies, labelled numbers, orders and units written out;
#: 638, 0.750, before the identifier finders), 62 protected tokens the gold does not list (59
#: before the Latin codes: pieces of message-text header fields — `FOB`, `ALPHA`, `OCT`,
#: `AUG` — and three grids with an odd digit count, all kept by the references; 115 before;
#: 181 before that), 15 tokens
#: that reference translations do not keep (57 before, 42 of them ordinary words in capitals
#: taken for acronyms).
FOUND_AT_LEAST = 805
NOT_IN_GOLD_AT_MOST = 62
REFERENCES_ALTERED_AT_MOST = 15


def test_recall_over_the_gold_set() -> None:
    result = coverage(GOLD, PROTECTED)
    assert result.gold_tokens == 851
    assert result.found >= FOUND_AT_LEAST, result.figures()


def test_tokens_not_in_gold_stay_few() -> None:
    result = coverage(GOLD, PROTECTED)
    assert result.not_in_gold <= NOT_IN_GOLD_AT_MOST, result.figures()
    assert result.references_altered <= REFERENCES_ALTERED_AT_MOST, result.figures()


def test_new_classes_never_flag_a_reference_translation() -> None:
    finders = (
        find_references,
        find_stock_numbers,
        find_phone_numbers,
        find_mixed_acronyms,
        find_callsigns,
        find_operation_names,
        find_task_groups,
        find_variant_names,
        find_plural_equipment,
        find_bare_frequencies,
        find_unit_names,
        find_orders,
        find_labelled_numbers,
        find_slashed_acronyms,
    )
    harmed: list[tuple[str, list[str]]] = []
    checked = 0
    for report in GOLD:
        spans = protected_spans(report.text, PROTECTED)
        kept = {(s.start, s.end) for s in spans}
        tokens = [s.text for f in finders for s in f(report.text) if (s.start, s.end) in kept]
        tokens += [s.text for s in spans if s.kind == "equipment" and " " in s.text]
        checked += len(tokens)
        lost = altered(tokens, report.reference_text, source=report.text)
        if lost:
            harmed.append((report.id, lost))
    assert checked > 50
    assert harmed == []
