"""logstat's deterministic reader: LOGSTAT lines and clear statements of free text, in five
languages, every quantity located (``text[start:end]`` is what it cites)."""

from __future__ import annotations

import pytest

from services.logstat.parse import has_signal, parse_report

# (text, [(quantity, unit, status, cited text)]) — what the patterns must read, nothing more.
Expected = list[tuple[float, str, str, str]]
CASES: list[tuple[str, str, Expected]] = [
    # ---- well-formed LOGSTAT lines, English
    (
        "en-dos",
        "LOGSTAT\nA. UNIT: 1-22 IN\nC. CL I: 4 DOS (GREEN)",
        [(4, "days_of_supply", "on_hand", "4 DOS")],
    ),
    (
        "en-on-hand-and-required",
        "LOGSTAT\nD. CL III (DIESEL): 18,500 L ON HAND / 6,000 L REQ (AMBER)",
        [(18500, "litres", "on_hand", "18,500 L"), (6000, "litres", "required", "6,000 L")],
    ),
    (
        "en-rounds-expended",
        "LOGSTAT\nE. CL V 5.56MM: 42,000 RDS O/H, 9,600 RDS EXPENDED",
        [(42000, "rounds", "on_hand", "42,000 RDS"), (9600, "rounds", "consumed", "9,600 RDS")],
    ),
    (
        "en-vehicles-nmc",
        "LOGSTAT\nG. CL IX: 3 VEH NMC",
        [(3, "vehicles", "unserviceable", "3 VEH")],
    ),
    (
        "en-glued-unit",
        "LOGSTAT\nB. CL III: 12000L\nC. CL V: 24000RDS",
        [(12000, "litres", "on_hand", "12000L"), (24000, "rounds", "on_hand", "24000RDS")],
    ),
    (
        "en-status-before",
        "LOGISTICS STATUS REPORT\nc) Diesel: required 7,500 L\nd) Petrol: 600 L remaining",
        [(7500, "litres", "required", "7,500 L"), (600, "litres", "on_hand", "600 L")],
    ),
    (
        "en-pallets-needed",
        "LOGSTAT\nf) Spare parts: 2 pallets needed\ng) Water: 3 m3",
        [(2, "pallets", "required", "2 pallets"), (3, "m3", "on_hand", "3 m3")],
    ),
    (
        "en-percent",
        "LOGSTAT\n1. FUEL: 65 %\n2. AMMO: 40% (RED)",
        [(65, "percent", "on_hand", "65 %"), (40, "percent", "on_hand", "40%")],
    ),
    (
        "en-pax-header",
        "LOGSTAT\n4. WATER: 2 m3\n5. PAX: 412",
        [(2, "m3", "on_hand", "2 m3"), (412, "personnel", "on_hand", "412")],
    ),
    (
        "en-inline-lines",
        "LOGSTAT 2-7 IN 251800ZNOV26 A. CL I: 3 DOS B. CL III: 12,000 L C. CL V: 40 BOXES",
        [
            (3, "days_of_supply", "on_hand", "3 DOS"),
            (12000, "litres", "on_hand", "12,000 L"),
            (40, "boxes", "on_hand", "40 BOXES"),
        ],
    ),
    (
        "en-declared-unit",
        "LOGSTAT\n3. FUEL (L): 4 000\n4. WATER (L): 900",
        [(4000, "litres", "on_hand", "4 000"), (900, "litres", "on_hand", "900")],
    ),
    (
        "en-casualties-line",
        "LOGSTAT\n6. PERS: 112 PAX, 3 WIA, 1 KIA",
        [
            (112, "personnel", "on_hand", "112 PAX"),
            (3, "personnel", "unserviceable", "3 WIA"),
            (1, "personnel", "unserviceable", "1 KIA"),
        ],
    ),
    # ---- missing lines: what is there is read, nothing is invented
    (
        "missing-unit-and-dtg",
        "LOGSTAT\nC. CL III: 8 000 L\nD. CL V: 20 BOXES",
        [(8000, "litres", "on_hand", "8 000 L"), (20, "boxes", "on_hand", "20 BOXES")],
    ),
    (
        "missing-quantities",
        "LOGSTAT\nA. UNIT: B COY\nB. DTG: 251800ZNOV26\nC. CL III: NIL RETURN",
        [],
    ),
    # ---- French
    (
        "fr-disponible-besoin",
        "CR LOG\nB. Classe III (gazole) : 9 500 L disponibles, besoin 5 000 L (ORANGE)",
        [(9500, "litres", "on_hand", "9 500 L"), (5000, "litres", "required", "5 000 L")],
    ),
    (
        "fr-cartouches",
        "CR LOG\nC. Classe V 5,56 mm : 18 000 cartouches",
        [(18000, "rounds", "on_hand", "18 000 cartouches")],
    ),
    (
        "fr-caisses-a-recompleter",
        "CR LOG\nD. Classe V 7,62 mm : 40 caisses à recompléter",
        [(40, "boxes", "required", "40 caisses")],
    ),
    (
        "fr-jours",
        "CR LOG\nA. Classe I (vivres) : 3 jours (VERT)",
        [(3, "days_of_supply", "on_hand", "3 jours")],
    ),
    (
        "fr-dot-thousands",
        "COMPTE RENDU LOGISTIQUE\n3. Kérosène F-34 : 24.000 L en stock\n4. Eau potable : 1.500 L",
        [(24000, "litres", "on_hand", "24.000 L"), (1500, "litres", "on_hand", "1.500 L")],
    ),
    (
        "fr-space-thousands",
        "CR LOG\n1. Gazole : 12 500 L\n2. Eau : 1 200 000 L",
        [(12500, "litres", "on_hand", "12 500 L"), (1200000, "litres", "on_hand", "1 200 000 L")],
    ),
    (
        "fr-decimal-comma",
        "CR LOG\n1. Gazole : 3,5 m3\n2. Vivres : 1,5 t",
        [(3.5, "m3", "on_hand", "3,5 m3"), (1.5, "tonnes", "on_hand", "1,5 t")],
    ),
    (
        "fr-consommees",
        "CR LOG\n5. Rations de combat : 320 rations consommées",
        [(320, "rations", "consumed", "320 rations")],
    ),
    (
        "fr-section-heading",
        "CRLOG\nBesoins :\n- gazole : 6 000 L\n- eau : 3 000 L\nConsommé : 2 500 L de gazole",
        [
            (6000, "litres", "required", "6 000 L"),
            (3000, "litres", "required", "3 000 L"),
            (2500, "litres", "consumed", "2 500 L"),
        ],
    ),
    (
        "fr-inline",
        "CR LOG 2e Cie 261400ZNOV26 A. Gazole : 4 200 L B. Eau : 800 L C. Vivres : 2 J",
        [
            (4200, "litres", "on_hand", "4 200 L"),
            (800, "litres", "on_hand", "800 L"),
            (2, "days_of_supply", "on_hand", "2 J"),
        ],
    ),
    (
        "fr-indisponibles",
        "CR LOG\nE. Classe IX : 2 VAB indisponibles (ROUGE)",
        [(2, "vehicles", "unserviceable", "2 VAB")],
    ),
    # ---- Russian and Ukrainian (Cyrillic units)
    (
        "ru-litres",
        "ЛОГИСТИЧЕСКОЕ ДОНЕСЕНИЕ\nВ. ДТ: 11 500 л в наличии, потребность 4 000 л (ЖЁЛТЫЙ)",
        [(11500, "litres", "on_hand", "11 500 л"), (4000, "litres", "required", "4 000 л")],
    ),
    (
        "ru-pieces-of-cartridges",
        "ЛОГИСТИЧЕСКОЕ ДОНЕСЕНИЕ\nГ. Патроны 5,45 мм: 36 000 шт.",
        [(36000, "rounds", "on_hand", "36 000 шт.")],
    ),
    (
        "ru-elliptic",
        "ЛОГИСТИЧЕСКОЕ ДОНЕСЕНИЕ\nД. Выстрелы ВОГ-25: 240 шт., израсходовано 60",
        [(240, "rounds", "on_hand", "240 шт."), (60, "rounds", "consumed", "60")],
    ),
    (
        "ru-tonnes-m3",
        "ДОНЕСЕНИЕ О ТЫЛОВОМ ОБЕСПЕЧЕНИИ\n2. Горючее: 8 т\n3. Вода: 5 м3",
        [(8, "tonnes", "on_hand", "8 т"), (5, "m3", "on_hand", "5 м3")],
    ),
    (
        "ru-thousand-word",
        "Израсходовано 5 тыс. л дизельного топлива, осталось 2 000 л.",
        [(5000, "litres", "consumed", "5 тыс. л"), (2000, "litres", "on_hand", "2 000 л")],
    ),
    (
        "ru-boxes-required",
        "Требуется 40 ящиков патронов 5,45 мм.",
        [(40, "boxes", "required", "40 ящиков")],
    ),
    (
        "ru-cubic-metres-required",
        "Потребность в воде — 8 кубометров.",
        [(8, "m3", "required", "8 кубометров")],
    ),
    (
        "uk-litres",
        "ЛОГІСТИЧНЕ ДОНЕСЕННЯ\nВ. Пальне (ДП): 6 000 л наявність (ЗЕЛЕНИЙ)",
        [(6000, "litres", "on_hand", "6 000 л")],
    ),
    (
        "uk-rounds-need",
        "ЛОГІСТИЧНЕ ДОНЕСЕННЯ\nД. Набої 7,62 мм: 20 000 набоїв, потреба 10 000 набоїв",
        [
            (20000, "rounds", "on_hand", "20 000 набоїв"),
            (10000, "rounds", "required", "10 000 набоїв"),
        ],
    ),
    (
        "uk-free-spent",
        "Рота витратила 12 000 набоїв 5,56 мм та 300 л пального. Залишилось 1 500 л пального.",
        [
            (12000, "rounds", "consumed", "12 000 набоїв"),
            (300, "litres", "consumed", "300 л"),
            (1500, "litres", "on_hand", "1 500 л"),
        ],
    ),
    (
        "uk-days",
        "ЛОГІСТИЧНЕ ДОНЕСЕННЯ\nГ. Вода: 2 доби",
        [(2, "days_of_supply", "on_hand", "2 доби")],
    ),
    # ---- Arabic (Arabic-Indic digits, Arabic separators and units)
    (
        "ar-litres-available",
        "تقرير لوجستي\nج. الوقود (ديزل): ٨٠٠٠ لتر متوفر (أخضر)",
        [(8000, "litres", "on_hand", "٨٠٠٠ لتر")],
    ),
    (
        "ar-thousands-separator",
        "تقرير لوجستي\nد. الذخيرة ٧٫٦٢ ملم: ١٢٬٠٠٠ طلقة مطلوبة",
        [(12000, "rounds", "required", "١٢٬٠٠٠ طلقة")],
    ),
    (
        "ar-decimal-separator",
        "تقرير لوجستي\nهـ. المياه: ٢٫٥ م٣",
        [(2.5, "m3", "on_hand", "٢٫٥ م٣")],
    ),
    (
        "ar-vehicles-unserviceable",
        "تقرير لوجستي\nو. المركبات: ٣ مركبات معطلة (أحمر)",
        [(3, "vehicles", "unserviceable", "٣ مركبات")],
    ),
    (
        "ar-ascii-digits",
        "تقرير الحالة اللوجستية\n3. الوقود: 2,500 لتر، المطلوب 3,000 لتر",
        [(2500, "litres", "on_hand", "2,500 لتر"), (3000, "litres", "required", "3,000 لتر")],
    ),
    (
        "ar-free-need",
        "أفادت الكتيبة بأن لديها ٤٠٠٠ لتر من الوقود وتحتاج إلى ٢٠٠٠ لتر من المياه. "
        "تم استهلاك ٥٠٠ طلقة.",
        [
            (4000, "litres", "on_hand", "٤٠٠٠ لتر"),
            (2000, "litres", "required", "٢٠٠٠ لتر"),
            (500, "rounds", "consumed", "٥٠٠ طلقة"),
        ],
    ),
    (
        "ar-conjunction-digit",
        "المطلوب بشكل عاجل: ٦٠ صندوق ذخيرة و٢ طن من المواد الغذائية.",
        [(60, "boxes", "required", "٦٠ صندوق"), (2, "tonnes", "required", "٢ طن")],
    ),
    # ---- free text, French and English
    (
        "fr-free-consumed",
        "Nous avons consommé 3,5 m3 de gazole hier. Il reste 1 200 L. "
        "Trois véhicules sont indisponibles.",
        [
            (3.5, "m3", "consumed", "3,5 m3"),
            (1200, "litres", "on_hand", "1 200 L"),
            (3, "vehicles", "unserviceable", "Trois véhicules"),
        ],
    ),
    (
        "en-free-remaining",
        "800 litres of diesel remaining, we need 5,000 litres before 0600Z. 3 WIA evacuated.",
        [
            (800, "litres", "on_hand", "800 litres"),
            (5000, "litres", "required", "5,000 litres"),
            (3, "personnel", "unserviceable", "3 WIA"),
        ],
    ),
    (
        "en-free-count-without-status",
        "The convoy of 12 trucks brought 30,000 litres of fuel.",
        [(30000, "litres", "on_hand", "30,000 litres")],
    ),
    # ---- malformed numbers: never read as quantities
    (
        "malformed-spaced",
        "LOGSTAT\nC. CL III: 12 00 L\nE. CL I: 2 DOS",
        [(2, "days_of_supply", "on_hand", "2 DOS")],
    ),
    ("malformed-commas", "LOGSTAT\nD. CL V: 4,00,0 RDS\nE. CL V: 1..200 RDS", []),
    # ---- unit confusions: each quantity keeps the unit written next to it
    ("confusion-declared", "LOGSTAT\nC. FUEL (L): 14 m3", [(14, "m3", "on_hand", "14 m3")]),
    ("restatement-kept-once", "LOGSTAT\nD. WATER: 3 m3 (3 000 L)", [(3, "m3", "on_hand", "3 m3")]),
    ("confusion-restatement", "LOGSTAT\nD. WATER: 3 m3 (300 L)", [(3, "m3", "on_hand", "3 m3")]),
    (
        "confusion-rounds-boxes-declared",
        "CR LOG\nB. Munitions 155 mm (obus) : 24 caisses",
        [(24, "boxes", "on_hand", "24 caisses")],
    ),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_reads_each_quantity_where_it_is_written(text: str, expected: Expected) -> None:
    reading = parse_report(text)
    got = [(q.quantity, q.unit, q.status, q.text) for q in reading.quantities]
    assert got == expected
    assert all(text[q.start : q.end] == q.text for q in reading.quantities)
    assert all(q.source == "pattern" for q in reading.quantities)


def test_there_are_at_least_forty_parser_cases() -> None:
    assert len(CASES) >= 40


def test_a_full_logstat_is_complete_with_its_unit_and_dtg() -> None:
    text = (
        "LOGSTAT\nA. UNIT: 1-22 IN BN\nB. DTG: 261200ZNOV26\nC. CL I: 4 DOS (GREEN)\n"
        "D. CL III (DIESEL): 18,500 L ON HAND / 6,000 L REQ (AMBER)\nG. CL IX: 3 VEH NMC\n"
        "H. REMARKS: NIL"
    )
    reading = parse_report(text)
    assert reading.line_format and reading.complete
    assert reading.unit == "1-22 IN BN"
    assert reading.unit_span is not None
    assert text[reading.unit_span[0] : reading.unit_span[1]] == "1-22 IN BN"
    assert (reading.dtg, reading.dtg_text) == ("2026-11-26T12:00:00Z", "261200ZNOV26")
    rations, diesel, _, vehicles = reading.quantities
    assert (rations.item, rations.rating, rations.supply_class) == ("rations", "green", "I")
    assert (diesel.item, diesel.rating, diesel.supply_class) == ("diesel", "amber", "III")
    assert (vehicles.item, vehicles.supply_class) == ("spare parts", "IX")
    assert reading.confusions == [] and reading.malformed == []


def test_the_unit_comes_after_the_title_when_no_line_names_it() -> None:
    reading = parse_report("SITLOG 3e RIMa 270800ZNOV26\nA. Gazole : 18 000 L\nB. Eau : 2 m3")
    assert (reading.unit, reading.dtg) == ("3e RIMa", "2026-11-27T08:00:00Z")
    assert reading.complete


@pytest.mark.parametrize(
    ("text", "unit"),
    [
        ("ЛОГИСТИЧЕСКОЕ ДОНЕСЕНИЕ\nА. Подразделение: 2-й мсб\nВ. ДТ: 500 л", "2-й мсб"),
        ("ЛОГІСТИЧНЕ ДОНЕСЕННЯ\nА. Підрозділ: 3-й батальйон\nВ. Вода: 4 м3", "3-й батальйон"),
        ("تقرير لوجستي\nأ. الوحدة: الكتيبة الثانية\nب. الوقود: ٥٠٠٠ لتر", "الكتيبة الثانية"),
        ("CR LOG\nA. Unité : 1er RCP\nB. Gazole : 900 L", "1er RCP"),
    ],
)
def test_the_reporting_unit_in_each_language(text: str, unit: str) -> None:
    assert parse_report(text).unit == unit


def test_a_line_with_a_number_it_cannot_read_is_not_complete() -> None:
    reading = parse_report("LOGSTAT\nC. CL III: 8 000 L\nD. REMARKS: 2 trucks late, ETA unknown")
    assert reading.line_format and not reading.complete
    assert [q.text for q in reading.quantities] == ["8 000 L"]


def test_malformed_numbers_are_named_and_the_report_is_not_complete() -> None:
    reading = parse_report("LOGSTAT\nC. CL III: 12 00 L\nD. CL V: 4,00,0 RDS\nE. CL I: 2 DOS")
    assert reading.malformed == ["12 00", "4,00,0"]
    assert not reading.complete


@pytest.mark.parametrize(
    ("text", "confused"),
    [
        ("LOGSTAT\nC. FUEL (L): 14 m3", ["14 m3"]),
        ("LOGSTAT\nD. WATER: 3 m3 (300 L)", ["3 m3", "300 L"]),
        ("LOGSTAT\nE. 5.56MM: 12 L", ["12 L"]),
        ("CR LOG\nD. Essence : 300 cartouches", ["300 cartouches"]),
        ("CR LOG\nB. Munitions 155 mm (obus) : 24 caisses", ["24 caisses"]),
        ("LOGSTAT\nD. WATER: 3 m3 (3 000 L)", []),
        ("LOGSTAT\nB. Gazole (L) : 900 L", []),
    ],
)
def test_unit_confusions_where_the_text_says_which(text: str, confused: list[str]) -> None:
    assert parse_report(text).confusions == confused


def test_calibres_and_classes_name_the_item() -> None:
    reading = parse_report(
        "LOGSTAT\nE. CL V 5.56MM: 42,000 RDS\nF. 7,62x39: 900 RDS\nG. CL VIII: 12 BOXES"
    )
    assert [(q.item, q.supply_class) for q in reading.quantities] == [
        ("ammunition 5.56 mm", "V"),
        ("ammunition 7.62x39 mm", "V"),
        ("medical supplies", "VIII"),
    ]


def test_the_item_after_the_unit_names_the_quantity_in_free_text() -> None:
    reading = parse_report("Il reste 4 000 L de gazole et 600 litres d'eau.")
    assert [q.item for q in reading.quantities] == ["diesel", "water"]


@pytest.mark.parametrize(
    "text",
    [
        "SPOTREP. 251430ZNOV26. Patrol observed 3 BTR-82A moving north at 31U DQ 48251 11932.",
        "Колонна из 5 БТР-82А движется на север у Купянска в 06:40.",
        "Колона з 4 танків Т-72 рухається на схід біля Бахмута.",
        "رصدت الدورية ثلاث مركبات مدرعة قرب الحدود عند الساعة 0640.",
        "Observation : deux VBCI au 251430ZNOV26 en 31U DQ 48251 11932. RAS.",
    ],
)
def test_reports_without_logistics_have_no_signal_and_no_quantity(text: str) -> None:
    assert not has_signal(text)
    reading = parse_report(text)
    assert reading.quantities == [] and not reading.signal


@pytest.mark.parametrize(
    "text",
    [
        "LOGSTAT",
        "Besoin de carburant au plus vite.",
        "Нужны боеприпасы.",
        "Потрібне пальне.",
        "نحتاج إلى الوقود",
        "CL III resupply tonight",
        "we have 300 rds left",
    ],
)
def test_logistics_vocabulary_in_any_language_is_a_signal(text: str) -> None:
    assert has_signal(text)
