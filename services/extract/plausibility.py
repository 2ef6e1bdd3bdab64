"""Can a proposal be of the type the model gave it? A few rules, each catching a common slip.

Grounding proves the text is in the report; these rules check the type is possible. They are
deliberately few and lenient — a proposal is refused only when its text cannot be of its type
at all:

- every type: the text holds a letter or a digit (punctuation alone names nothing);
- ``Quantity``: a digit, a number word ("3", "trois", "шесть", "ثلاث"), or a count without a
  numeral ("un blessé", "both", "une quinzaine", "десяток") — a count needs a number
  ("patrouille", "les" are none);
- ``DateTime``: a digit, a number word, or a day or month name ("jeudi", "November", "الخميس") —
  a time needs something to count or name it ("patrouille" is no date);
- ``CommsIdentifier``: a digit, a capital letter, or a letter of a script without capitals
  (Arabic) — callsigns and frequencies are codes and names, not common words ("nord").

Places, units, people, organisations, platforms, weapons and nationalities have no rule: their
names are open-ended, and being in the text is all grounding can require of them.
"""

from __future__ import annotations

import re

from schemas.v1 import EntityType
from services.domain.quantities import number_words
from services.extract.arabic import without_clitic

__all__ = ["implausible"]

_WORD = re.compile(r"\w+(?:['’]\w+)?")

#: Counts without a numeral, in the report languages: the article as the numeral one ("un
#: blessé", "a casualty": the model calls it a count, and it is one — an article never SUPPORTS
#: a figure in a summary, but it may BE a quantity), "both", and approximate counts.
_COUNT_NAMES = """
    un une a an both pair couple dozen dozens hundreds thousands
    dizaine douzaine quinzaine vingtaine trentaine cinquantaine centaine centaines millier milliers
    оба обе пара пару десяток десятка десятки сотня сотни тысячи
    обидва обидві пара пару десяток десятки сотня сотні тисячі
    كلا كلتا عشرات مئات آلاف
"""
_COUNT_WORDS = frozenset(_COUNT_NAMES.split())

# Day and month names in the report languages (the forms a report uses: Russian and
# Ukrainian nominative, genitive, accusative; Arabic without its article, which is a clitic).
_CALENDAR_NAMES = """
    monday tuesday wednesday thursday friday saturday sunday
    january february march april may june july august september october november december
    lundi mardi mercredi jeudi vendredi samedi dimanche lundis mardis mercredis jeudis
    vendredis samedis dimanches
    janvier février mars avril mai juin juillet août septembre octobre novembre décembre
    понедельник вторник среда среду четверг пятница пятницу суббота субботу воскресенье
    январь января февраль февраля март марта апрель апреля май мая июнь июня июль июля
    август августа сентябрь сентября октябрь октября ноябрь ноября декабрь декабря
    понеділок понеділка вівторок вівторка середа середу четвер четверга п'ятниця п'ятницю
    п’ятниця п’ятницю субота суботу неділя неділю
    січень січня лютий лютого березень березня квітень квітня травень травня червень червня
    липень липня серпень серпня вересень вересня жовтень жовтня листопад листопада грудень
    грудня
    اثنين ثلاثاء أربعاء خميس جمعة سبت أحد
    يناير فبراير مارس أبريل مايو يونيو يوليو أغسطس سبتمبر أكتوبر نوفمبر ديسمبر
    كانون شباط آذار نيسان أيار حزيران تموز آب أيلول تشرين
"""
_CALENDAR = frozenset(_CALENDAR_NAMES.split())


def _words(text: str) -> list[str]:
    """The words of ``text``, case-folded, each also without an Arabic clitic prefix."""
    return [form for w in _WORD.findall(text.casefold()) for form in without_clitic(w)]


def _has_number_word(text: str, extra: frozenset[str] = frozenset()) -> bool:
    numerals = number_words()
    return any(word in numerals or word in extra for word in _words(text))


def implausible(kind: EntityType, text: str) -> str | None:
    """Why ``text`` cannot be an entity of type ``kind`` (see the module docstring), or None."""
    if not any(char.isalnum() for char in text):
        return "no letter or digit"
    if any(char.isdigit() for char in text):
        return None
    if kind == "Quantity" and not _has_number_word(text, _COUNT_WORDS):
        return "no digit or number word"
    if kind == "DateTime" and not _has_number_word(text, _CALENDAR):
        return "no digit, number word, day or month name"
    # A capital, or a letter of a script without case (neither upper nor lower).
    if kind == "CommsIdentifier" and not any(
        char.isalpha() and not char.islower() for char in text
    ):
        return "no digit or capital letter"
    return None
