"""The words of logistics reports in French, English, Russian, Ukrainian and Arabic.

Each table maps a normalised value (a unit of measure, an item, a status, a colour) to the
regular-expression fragments that write it. Matching ignores case and stands on whole words;
an Arabic term also matches behind the attached particles and article (``و ف ب ك ل ال``).
Russian and Ukrainian inflect: a fragment ending in ``\\w*`` is a stem. Pure: standard library
and ``services.domain.quantities``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Literal, NamedTuple

from services.domain.quantities import ascii_digits

__all__ = [
    "CALIBRE",
    "CASUALTIES",
    "CLASS_CODE",
    "CLASS_ITEMS",
    "COUNT_UNITS",
    "DTG_KEYS",
    "HEADERS",
    "ITEMS",
    "ITEM_CLASS",
    "RATINGS",
    "REMARK_KEYS",
    "STATUSES",
    "STRONG_UNITS",
    "UNITS",
    "UNIT_KEYS",
    "WEAK_UNITS",
    "Hit",
    "Lexicon",
    "Rating",
    "Status",
    "UnitOfMeasure",
    "calibre_hit",
    "class_of",
    "unit_family",
]

UnitOfMeasure = Literal[
    "litres",
    "m3",
    "tonnes",
    "kg",
    "rounds",
    "boxes",
    "pallets",
    "rations",
    "days_of_supply",
    "percent",
    "vehicles",
    "personnel",
    "each",
]
Status = Literal["on_hand", "required", "consumed", "unserviceable"]
Rating = Literal["green", "amber", "red", "black"]

_ARABIC_LETTER = re.compile(r"[\u0621-\u064a]")
# Particles and article an Arabic word carries in front: و ف ب ك ل, then ال (or لل after ل).
_ARABIC_PREFIX = "(?:[وفبكل]?(?:ال|لل)?)"


def _table(source: str) -> dict[str, tuple[str, ...]]:
    """``value: fragment; fragment`` lines (a line starting with spaces continues the one
    before) → value → fragments."""
    table: dict[str, tuple[str, ...]] = {}
    value = ""
    for line in source.strip("\n").split("\n"):
        if line.startswith(" "):
            rest = line
        else:
            value, _, rest = line.partition(": ")
        table[value] = table.get(value, ()) + tuple(f.strip() for f in rest.split(";") if f.strip())
    return table


class Hit(NamedTuple):
    start: int
    end: int
    value: str


def _fragment(term: str) -> str:
    return _ARABIC_PREFIX + term if _ARABIC_LETTER.match(term) else term


class Lexicon:
    """One table, compiled: every term of every value in one alternation, longest first."""

    def __init__(self, table: Mapping[str, Sequence[str]]) -> None:
        self._entries = [
            (value, re.compile(_fragment(term), re.IGNORECASE))
            for value, terms in table.items()
            for term in terms
        ]
        fragments = sorted(
            {_fragment(term) for terms in table.values() for term in terms}, key=len, reverse=True
        )
        alternation = "|".join(fragments)
        self._anywhere = re.compile(rf"(?<!\w)(?:{alternation})(?!\w)", re.IGNORECASE)
        self._here = re.compile(rf"(?:{alternation})(?![\w-])", re.IGNORECASE)

    def value_of(self, written: str) -> str:
        for value, pattern in self._entries:
            if pattern.fullmatch(written):
                return value
        raise KeyError(written)

    def find(self, text: str, start: int = 0, end: int | None = None) -> list[Hit]:
        """Every term standing as whole words in ``text[start:end]``, in order."""
        stop = len(text) if end is None else end
        return [
            Hit(m.start(), m.end(), self.value_of(m.group(0)))
            for m in self._anywhere.finditer(text, start, stop)
        ]

    def at(self, text: str, position: int, end: int | None = None) -> Hit | None:
        """The term starting exactly at ``position`` (a unit written after its number)."""
        m = self._here.match(text, position, len(text) if end is None else end)
        return None if m is None else Hit(m.start(), m.end(), self.value_of(m.group(0)))

    def search(self, text: str) -> bool:
        return self._anywhere.search(text) is not None


# Units of measure read after a number anywhere, free text included.
_STRONG_UNITS: dict[str, tuple[str, ...]] = _table(
    r"""
litres: l; lt; ltrs?; lit(?:re|er)s?; л; литр\w*; літр\w*; لتر; لترا; لترات; ليتر; ليترا;
    ليترات
m3: m3; m³; m\^3; cbm; m[eè]tres? cubes?; cubic met(?:re|er)s?; м3; м³; куб\. ?м\.?;
    куб\.? ?м\.?; кубометр\w*; кубическ\w* метр\w*; кубічн\w* метр\w*; م3; م٣; متر مكعب;
    مترا مكعبا; أمتار مكعبة; متر مكعبة
tonnes: t; tn; tonnes?; tons?; т; тонн\w*; тон; тонни; тонна; طن; طنا; أطنان
kg: kg; kgs; kilos?; kilogram(?:me)?s?; кг; كغ; كلغ; كجم; كيلوغرام\w*
rounds: rds?; rounds?; cartouches?; cart\.; coups?; obus; shells?; патрон\w*; выстрел\w*;
    снаряд\w*; набо[їй]\w*; постріл\w*; طلقة; طلقات; قذيفة; قذائف
boxes: box(?:es)?; bx; crates?; caisses?; cses?; ящик\w*; скрин\w*; صندوق; صناديق; صندوقا
pallets: pallets?; palettes?; поддон\w*; піддон\w*; منصة; منصات
rations: rations?; mres?; rcir; сухпа\w*; сухих пайков; сухих пайків; пайк\w*; пайків; ирп;
    حصة; حصص; وجبة; وجبات
days_of_supply: dos; days? of supply; jours? de vivres; jours? d['’]autonomie;
    jours? de ravitaillement; сут(?:ок|ки)? запаса; суточн\w* норм\w*; сутодач\w*;
    діб запасу; днів запасу; أيام إمداد; أيام من الإمداد; أيام من الإمدادات
percent: %; ٪; pct; percent; pour ?cent; процент\w*; відсот\w*
"""
)

# Read after a number in a LOGSTAT line, or as a model item's evidence: alone in free text they
# say too little ("3 jours" is a delay as often as a stock, "12 pax" a sighting).
_WEAK_UNITS: dict[str, tuple[str, ...]] = _table(
    r"""
days_of_supply: days?; jours?; j; сут(?:ок|ки)?; сут\.; дн(?:ей|я); діб; доб[аиу]; днів; дні; أيام;
    يوم; يوما
vehicles: veh; vehs; véh; vehicles?; véhicules?; vehicules?; trucks?; camions?; vl; vab; vbci;
    vbl; vbmr; vltt; pvp; gbc; бтр; бмп; камаз\w*; машин\w*;
    автомобил\w*; автомобіл\w*; грузовик\w*; вантажівк\w*; ед\. техники; одиниц\w* техніки;
    مركبة; مركبات; آلية; آليات; شاحنة; شاحنات; عربة; عربات
personnel: pax; pers; personnel; personnels; men; soldiers; soldats; hommes; militaires;
    человек; чел\.; военнослужащ\w*; бойц\w*; військовослужбовц\w*; осіб; особи; бійц\w*;
    جندي; جنديا; جنود; أفراد; فرد; فردا
each: ea; each; pcs; pces?; pi[eè]ces?; unités?; units?; шт\.?; штук\w*; одиниц\w*; قطعة;
    قطع
"""
)

#: Every unit of measure (strong and weak): what a line's number, or a model item, may carry.
UNITS = Lexicon(
    {
        unit: _STRONG_UNITS.get(unit, ()) + _WEAK_UNITS.get(unit, ())
        for unit in (*_STRONG_UNITS, *_WEAK_UNITS)
    }
)
STRONG_UNITS = Lexicon(_STRONG_UNITS)
WEAK_UNITS = Lexicon(_WEAK_UNITS)
#: Units whose number is a count of things a report lists anyway (not read from free text alone).
COUNT_UNITS = frozenset({"vehicles", "personnel", "each"})

# Wounded and killed: counted as personnel out of action.
CASUALTIES = Lexicon(
    _table(
        r"""
wounded: wia; wounded; bless[ée]s?; blessées; ранен\w*; поранен\w*; جرحى; جريح; مصاب\w*
killed: kia; killed; dead; tu[ée]s; morts?; убит\w*; погибш\w*; загибл\w*; вбит\w*; قتلى;
    قتيل; شهداء
"""
    )
)

ITEMS = Lexicon(
    _table(
        r"""
diesel: diesel; gazole; gas-?oil; f-?54; дт; дизел\w*; дизтоплив\w*; дизпалив\w*;
    дизельн\w* топлив\w*; дизельн\w* палив\w*; дп; ديزل; سولار; مازوت
petrol: petrol; gasoline; mogas; essence; бензин\w*; بنزين
jet fuel: jet fuel; jp-?8; f-?34; f-?35; k[ée]ros[èe]ne; керосин\w*; авиатоплив\w*;
    авіапалив\w*; كيروسين; وقود الطائرات
fuel: fuel; pol; carburants?; топлив\w*; горюч\w*; гсм; пальн\w*; палив\w*; пмм; وقود;
    محروقات
water: water; potable water; eau potable; eau; вод[аыуе]; питьев\w* вод\w*; питн\w* вод\w*;
    води; مياه; ماء
rations: rations?; food; mres?; vivres; rations? de combat; rcir; продовольстви\w*;
    продукт\w* питания; сухпа\w*; сухих пайк\w*; пайк\w*; продовольств\w*; харч\w*; تموين;
    أغذية; طعام; وجبات; حصص غذائية; مواد غذائية
ammunition: ammunition; ammo; munitions?; grenades?; боеприпас\w*; боєприпас\w*; выстрел\w*;
    гранат\w*; мин[аы]; міни; ذخيرة; ذخائر; قنابل
medical supplies: medical supplies; med supplies; produits de sant[ée];
    mat[ée]riel m[ée]dical; медикамент\w*; медикаменти; медичн\w* майн\w*; مستلزمات طبية;
    أدوية
spare parts: spare parts; spares; pi[eè]ces? d[ée]tach[ée]es; pi[eè]ces? de rechange;
    запчаст\w*; запасн\w* част\w*; قطع غيار
vehicles: vehicles; v[ée]hicules; trucks; camions; автотехник\w*; техник\w*; технік\w*;
    مركبات; آليات; شاحنات
personnel: personnel; pers; effectifs?; личн\w* состав\w*; особов\w* склад\w*; الأفراد;
    أفراد
"""
    )
)

#: The class of supply an item belongs to (NATO classes I–X).
ITEM_CLASS: dict[str, str] = {
    "diesel": "III",
    "petrol": "III",
    "jet fuel": "III",
    "fuel": "III",
    "water": "I",
    "rations": "I",
    "ammunition": "V",
    "medical supplies": "VIII",
    "spare parts": "IX",
}
#: The item a class of supply stands for when a line names nothing more precise.
CLASS_ITEMS: dict[str, str] = {
    "I": "rations",
    "II": "clothing and equipment",
    "III": "fuel",
    "IV": "construction materiel",
    "V": "ammunition",
    "VI": "personal items",
    "VII": "major end items",
    "VIII": "medical supplies",
    "IX": "spare parts",
    "X": "non-military materiel",
}
_ROMAN = {str(n): r for n, r in enumerate(CLASS_ITEMS, start=1)}
CLASS_CODE = re.compile(
    r"(?<!\w)(?:cl(?:ass)?|classe|класс?|كلاس|الفئة|فئة)\.?[ ]?"
    r"(?P<code>VIII|VII|VI|IV|V|IX|X|III|II|I|10|[1-9])(?!\w)",
    re.IGNORECASE,
)


def class_of(code: str) -> str:
    """ "3" → "III", "iii" → "III"."""
    return _ROMAN.get(code, code.upper())


# Calibres: "5.56MM", "7,62 мм", "12.7x108", "155 mm", "cal .50", "ملم 7.62".
CALIBRE = re.compile(
    r"(?<![\w.,])(?P<cal>[0-9\u0660-\u0669]{1,3}(?:[.,\u066b][0-9\u0660-\u0669]{1,2})?)[ ]?"
    r"(?:(?:mm|мм|ملم|مم)(?![^\W\d_])|[xх×][ ]?[0-9]{2,3}(?:[ ]?(?:mm|мм))?(?![^\W\d_]))"
    r"|(?<!\w)(?:cal(?:ibre|iber)?\.?[ ]?)(?P<cal2>\.?50|\.?30)(?!\w)"
    # The common small-arms calibres need no "mm": "2 boxes of 5.56", "cartouches de 7,62".
    r"|(?<![\w.,])(?P<cal3>[5٥][.,٫][5٥][6٦]|[5٥][.,٫][4٤][5٥]|[7٧][.,٫][6٦][2٢]|1[2٢][.,٫][7٧]|"
    r"[1١][4٤][.,٫][5٥])(?![\w.,]?[0-9])",
    re.IGNORECASE,
)


def calibre_hit(m: re.Match[str]) -> Hit:
    """A :data:`CALIBRE` match as an item: ``ammunition 5.56 mm``, ``ammunition 7.62x39 mm``,
    ``ammunition .50 cal``."""
    if m.group("cal2"):
        return Hit(m.start(), m.end(), f"ammunition .{m.group('cal2').lstrip('.')} cal")
    written = m.group("cal") or m.group("cal3")
    calibre = ascii_digits(written).replace(",", ".").replace("\u066b", ".")
    tail = re.search(r"[xх×][ ]?([0-9]{2,3})", m.group(0))
    size = f"{calibre}x{tail.group(1)}" if tail else calibre
    return Hit(m.start(), m.end(), f"ammunition {size} mm")


STATUSES = Lexicon(
    _table(
        r"""
on_hand: on hand; o/h; oh; available; avail; remaining; remain; in stock; stocks?; holding; held;
    r[ée]serves?; запас\w*;
    disponibles?; dispo; en stock; restants?; reste; restent; en dotation; в наличии;
    наличи\w*; имеется; имеются; остат\w*; осталось; наявн\w*; в наявності; залиш\w*; متوفر;
    متوفرة; متاح; متاحة; رصيد; متبق\w*; بقي; تبقى; يتبقى; لدينا; لدي; لديه; لديها; لديهم
required: required; req; reqd; requested; needed; need; needs; shortfall; besoins?;
    demand[ée]e?s?; demande; [àa] recompl[ée]ter; recompl[èe]tement; manquants?; manque;
    il faut; требу\w*; необходим\w*; нужн\w*; потребност\w*; заявк\w*; недостач\w*;
    не хватает; потреб\w*; потрібн\w*; необхідн\w*; бракує; нестач\w*; مطلوب; مطلوبة; نحتاج;
    تحتاج; يحتاج; بحاجة; حاجة; نقص; احتياج\w*
consumed: consumed; used; expended; fired; spent; consumption; consomm[ée]e?s?; consommation;
    tir[ée]e?s?; utilis[ée]e?s?; d[ée]pens[ée]e?s?; израсходован\w*; расход\w*;
    использован\w*; выпущен\w*; витрачен\w*; витрат\w*; використан\w*; розхід; випущен\w*;
    استهلك\w*;
    مستهلك\w*; استهلاك; استخدم\w*; أطلق\w*
unserviceable: unserviceable; u/s; nmc; non-?mission capable; inoperable; broken down;
    broken; damaged; out of action; hors service; hs; h\.s\.; indisponibles?; en panne;
    endommag[ée]e?s?; inutilisables?; неисправн\w*; вышл\w* из строя; выведен\w* из строя;
    поврежден\w*; несправн\w*; пошкоджен\w*; вийшл\w* з ладу; معطل\w*; متعطل\w*; خارج الخدمة;
    تالف\w*; معطوب\w*
"""
    )
)

RATINGS = Lexicon(
    _table(
        r"""
green: green; vert; verte; зел[её]н\w*; зелен\w*; أخضر; خضراء
amber: amber; yellow; orange; jaune; ж[её]лт\w*; янтарн\w*; жовт\w*; бурштинов\w*; أصفر;
    صفراء; برتقالي; كهرماني
red: red; rouge; красн\w*; червон\w*; أحمر; حمراء
black: black; noir; ч[её]рн\w*; чорн\w*; أسود; سوداء
"""
    )
)

#: Titles of a logistics status report.
HEADERS = Lexicon(
    _table(
        r"""
logstat: logstat; log ?stat; logrep; log sitrep; cr ?log; crlog; sitlog;
    compte[- ]rendu logistique; compte[- ]rendu de situation logistique;
    situation logistique; logistics status(?: report)?; logistic status(?: report)?;
    логистическ\w* донесени\w*; донесени\w* о тылов\w* обеспечени\w*;
    донесени\w* о материально-техническ\w* обеспечени\w*; тылов\w* донесени\w*;
    логістичн\w* донесенн\w*; донесенн\w* про логістичн\w* забезпеченн\w*;
    донесенн\w* про матеріально-технічн\w* забезпеченн\w*; تقرير لوجستي;
    تقرير الحالة اللوجستية; تقرير الوضع اللوجستي; التقرير اللوجستي
"""
    )
)

#: What introduces the reporting unit on a line ("UNIT: 2-7 IN", "Unité : 3e RIMa").
UNIT_KEYS = re.compile(
    r"(?:reporting unit|unit|unité|unite|formation|from|émetteur|emetteur|подразделение|"
    r"часть|в/ч|підрозділ|частина|الوحدة|وحدة)\s*[:\-–]\s*",
    re.IGNORECASE,
)
#: What introduces the report's date-time group on a line.
DTG_KEYS = re.compile(
    r"(?:dtg|gdh|as of|date|time|en date du|по состоянию на|станом на|بتاريخ|التاريخ)\b",
    re.IGNORECASE,
)

#: What introduces a line of remarks: prose, read as free text even inside a LOGSTAT.
REMARK_KEYS = re.compile(
    r"(?:remarks?|rmks|narrative|comments?|remarques?|observations?|commentaires?|примечани\w*|"
    r"замечани\w*|примітк\w*|зауваженн\w*|ملاحظات|ملاحظة)\s*[:\-–]",
    re.IGNORECASE,
)

_FAMILIES = {
    "litres": "volume",
    "m3": "volume",
    "tonnes": "mass",
    "kg": "mass",
    "rounds": "ammunition",
    "boxes": "ammunition",
}


def unit_family(unit: str) -> str | None:
    """Units a writer confuses with one another share a family (litres and m³; rounds and
    boxes; tonnes and kg)."""
    return _FAMILIES.get(unit)
