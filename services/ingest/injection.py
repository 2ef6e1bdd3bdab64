"""Suspected prompt injection: report text that addresses the model with instructions.

A report is data. Text in it that talks to "the assistant" ("ignore your previous instructions",
"tu es maintenant…", "<|im_start|>") cannot change what the tasks do — prompts frame the report
as data, the engine constrains outputs to their schema, entities are grounded, summaries are
checked — but an analyst must know that someone tried, so ingest flags it.

Matching runs on a folded copy of the text, because attackers hide phrases from simple filters:
compatibility forms (full-width letters), case, accents and other combining marks, zero-width
and bidirectional control characters, runs of whitespace, Latin words spelt with Cyrillic or
Greek look-alike letters. Each match is mapped back to the original text, so the flag shows the
phrase as the report wrote it (without the invisible characters).

The patterns want an imperative or a second person addressed to a model, never a verb alone:
"the unit ignored the ceasefire", "instructions received from HQ", "new orders" are reports.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
import unicodedata
from collections.abc import Callable

from schemas.v1 import Flag

__all__ = ["MAX_PHRASES", "MAX_PHRASE_CHARS", "injection_flag", "suspected_injection"]

MAX_PHRASES = 10
MAX_PHRASE_CHARS = 80

# Categories removed before matching: format controls (zero-width space/joiners, bidi marks and
# isolates, soft hyphen, BOM) and combining marks (accents, harakat, variation selectors).
_INVISIBLE = frozenset({"Cf", "Mn", "Me"})
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})
# Cyrillic and Greek letters that look like Latin ones, for the Latin patterns only: one
# character for one, so offsets into the folded text stay valid.
_LOOKALIKES = str.maketrans(
    "аеорсухіјѕԁӏοαειкνρτυχ",
    "aeopcyxijsdloaeikvptux",
)


def _fold_plain(text: str) -> str:
    return "".join(_fold_char(c) for c in text)


@functools.lru_cache(maxsize=8192)
def _fold_char(char: str) -> str:
    """One character as the patterns see it: compatibility-decomposed, without marks and
    invisible controls, case-folded, typographic apostrophes straightened."""
    if char.isspace():
        return "\n" if char in "\n\r\u2028\u2029\x0b\x0c\x85" else " "
    decomposed = unicodedata.normalize("NFKD", char)
    kept = "".join(c for c in decomposed if unicodedata.category(c) not in _INVISIBLE)
    return kept.casefold().translate(_APOSTROPHES)


def _patterns(*sources: str) -> tuple[re.Pattern[str], ...]:
    # Written as read (accents, й, أ) and folded like the text, so both sides agree. They use
    # no upper-case escapes (\S, \W, \B), which folding would turn into their opposites. The
    # text keeps its whitespace runs (so offsets need no remapping): a space in a pattern
    # matches a run.
    return tuple(
        re.compile(_SPACE.sub(_widen_space, _fold_plain(source)), re.MULTILINE)
        for source in sources
    )


_SPACE = re.compile(r"\\s(\?)?")


def _widen_space(match: re.Match[str]) -> str:
    return r"\s*" if match.group(1) else r"\s+"


_WORD_START = r"(?<![\w])"

# English and French (Latin script); matched on the look-alike-folded text as well.
_LATIN = _patterns(
    # English
    _WORD_START + r"(?:ignore|disregard|forget|override|bypass)\s(?:all\s|any\s)?(?:of\s)?"
    r"(?:(?:your|my)\s(?:previous\s|prior\s|earlier\s|original\s|initial\s|system\s)?"
    r"|(?:the\s|all\s|these\s|those\s)?(?:previous|prior|above|earlier|preceding|foregoing)\s)"
    r"(?:instructions?|prompts?|rules|directives|guidelines|system\sprompt|programming)\b",
    _WORD_START + r"(?:ignore|disregard|forget)\s(?:all\s|everything\s)?(?:of\s)?(?:the\s)?"
    r"(?:above|foregoing|text\sabove|everything\sabove)\b"
    r"(?!\s(?:grid|message|report|position|coordinates|dtg|time|location|figures?|line|entry"
    r"|transmission|frequency|callsign))",
    _WORD_START + r"forget\severything\s(?:you\swere\stold|above|before)\b",
    _WORD_START + r"you\sare\snow\s(?:an?\s|my\s|no\slonger\b|free\b|unrestricted\b|unfiltered\b"
    r"|jailbroken\b|dan\b|called\b|named\b|acting\b|playing\b|going\sto\b"
    r"|in\s(?:developer|dan|god|jailbreak|unrestricted)\smode\b)",
    _WORD_START + r"(?:system\sprompt|(?:reveal|print|repeat|show)\s(?:me\s)?(?:your|the)\s"
    r"(?:instructions|prompt|system\smessage))\b",
    _WORD_START + r"as\san?\s(?:ai\slanguage\smodel|ai\sassistant|ai|a\.i\.|llm"
    r"|artificial\sintelligence|(?:large\s)?language\smodel)(?![\w-])",
    _WORD_START + r"new\s(?:instructions?|system\sprompt|rules|task)\s?:",
    _WORD_START + r"(?:respond|reply|answer)\s(?:only\swith|with\sonly|only\sin)\s"
    r"(?:json|yes|no|the\sword|the\sfollowing|a\ssingle|one\sword|ok\b|\"|')",
    _WORD_START + r"(?:do\snot|don't|dont|never)\s(?:translate|summari[sz]e|extract\b)",
    _WORD_START + r"(?:output|print|return|write|emit|respond\swith|reply\swith)\s"
    r"(?:the\sfollowing\s|this\s|exactly\s|only\s)?json\b",
    # French
    _WORD_START + r"(?:ignore[sz]?|oublie[sz]?|ne\stiens\spas\scompte\sdes?)\s"
    r"(?:toutes\s|tous\s)?(?:les|tes|vos|ces)\s(?:instructions|consignes|directives|règles)\s"
    r"(?:précédentes|antérieures|ci-dessus|initiales)",
    _WORD_START + r"(?:oublie[sz]?|ignore[sz]?)\s(?:toutes\s)?(?:tes|vos)\s"
    r"(?:instructions|consignes|directives|règles)\b",
    _WORD_START + r"(?:ignore[sz]?|oublie[sz]?)\s(?:tout\s)?ce\squi\sprécède\b",
    _WORD_START + r"tu\s(?:es|seras)\s(?:maintenant|désormais|à\sprésent|dorénavant)\b",
    _WORD_START + r"vous\sêtes\s(?:maintenant|désormais|à\sprésent)\s(?:un|une|mon|en\smode)\b",
    _WORD_START + r"(?:à\spartir\sde\smaintenant|désormais|dorénavant),?\s(?:tu|réponds)\b",
    _WORD_START
    + r"en\stant\squ'\s?(?:ia|intelligence\sartificielle|assistant|modèle\sde\slangage)\b",
    _WORD_START + r"(?:prompt|invite)\ssystème\b",
    _WORD_START + r"ne\s(?:traduis|traduisez|résume|résumez)\spas\b",
    _WORD_START + r"réponds\s(?:uniquement|seulement)\s(?:par|avec|en)\b",
    # Addressed to the machine reading the report ("if you are an AI…", "note for the
    # automatic processing system:"), then told what to do.
    _WORD_START + r"if\syou\sare\san?\s(?:ai|llm|language\smodel|assistant|bot|automated)\b",
    _WORD_START + r"(?:to|for)\s(?:the\s|any\s)?(?:ai|llm|automated|automatic)\s"
    r"(?:system|processing|translator|assistant|tool|model)s?\s?:",
    _WORD_START + r"si\s(?:tu\ses|vous\sêtes)\sun(?:e)?\s(?:ia|intelligence\sartificielle"
    r"|assistant|modèle|programme|robot)\b",
    _WORD_START + r"(?:système|programme|logiciel|outil)s?\sde\s(?:traitement|traduction|résumé"
    r"|synthèse|analyse)\sautomati(?:que|sé)s?\s?:",
    _WORD_START + r"ignore[sz]?\s(?:les|tes|vos)\s(?:lignes|paragraphes|messages|phrases)\s"
    r"(?:ci-dessus|précédent(?:e)?s)",
)

# Russian, Ukrainian, Arabic, and chat-template markup (script-independent).
_OTHER = _patterns(
    # Russian
    _WORD_START + r"(?:игнорируй(?:те)?|забудь(?:те)?|не\sобращай(?:те)?\sвнимания\sна)\s"
    r"(?:все\s|всё\s)?(?:(?:предыдущие|прошлые|прежние|свои|твои|ваши|эти)\s)?"
    r"(?:инструкции|указания|установки|правила|промпт)",
    _WORD_START + r"(?:ты\sтеперь|теперь\sты)\b",
    _WORD_START + r"системн(?:ый|ого|ому|ым)\sпромпт",
    _WORD_START + r"как\s(?:ии|языковая\sмодель|ассистент|искусственный\sинтеллект)\b",
    _WORD_START + r"(?:отвечай\sтолько|не\sпереводи(?:те)?\b)",
    _WORD_START + r"(?:ии-(?:ассистент|помощник|модел|систем)\w*|отныне\s(?:вы|ты)\b)",
    # Ukrainian (і/ї also written with the Latin i)
    _WORD_START + r"(?:[іi]гноруй(?:те)?|забудь(?:те)?)\s(?:вс[іi]\s|ус[іi]\s)?"
    r"(?:(?:попередн[іi]|минул[іi]|сво[їi]|тво[їi]|ваш[іi])\s)?"
    r"(?:[іi]нструкц[іi][їi]|вказ[іi]вки|настанови|правила)",
    _WORD_START + r"(?:ти\sтепер|тепер\sти)\b",
    _WORD_START + r"системн(?:ий|ого)\sпромпт",
    _WORD_START + r"як\s(?:ш[іi]|мовна\smодель|асистент|штучний\s[іi]нтелект)\b",
    _WORD_START + r"(?:в[іi]дпов[іi]дай\s(?:лише|т[іi]льки)|не\sперекладай(?:те)?\b)",
    _WORD_START + r"в[іi]дтепер\s(?:вважай|ти|ви|[іi]гноруй)\b",
    _WORD_START + r"(?:систем[іi]|програм[іi]|нейромереж[іi]),?\s(?:яка|що)\s"
    r"(?:перекладає|обробляє|анал[іi]зує)",
    # Arabic (و/ف "and" attach to the verb)
    _WORD_START + r"[وف]?تجاهل(?:ي|وا)?\s(?:كل\s|جميع\s)?"
    r"(?:التعليمات|التوجيهات|الإرشادات)(?:\s(?:السابقة|الماضية|أعلاه))?",
    _WORD_START + r"[وف]?(?:انس|انسى|انسي|انسوا)\s(?:كل\s|جميع\s)?"
    r"(?:التعليمات|التوجيهات|الإرشادات)",
    _WORD_START + r"[وف]?أنت\sالآن\b",
    _WORD_START + r"(?:كنموذج\sلغوي|بصفتك\s(?:ذكاء\sاصطناعي|مساعد|نموذج))",
    _WORD_START + r"لا\sتترجم\b",
    _WORD_START + r"[وف]?(?:ل|لي)?[يت]?تجاهل\s(?:كل\s|جميع\s)?(?:الأوامر|ما\sسبق)",
    _WORD_START + r"(?:للمعالجة\sالآلية|(?:إلى|الى|ل)\s?نظام\s(?:التحليل|الترجمة|المعالجة)\s?:)",
    # Chat templates and instruction formats: text that tries to open a turn of its own.
    r"<\|[a-z0-9_]{2,30}\|>",
    r"</?(?:start_of_turn|end_of_turn)>",
    r"\[/?inst\]|<</?sys>>",
    r"^\s?#{2,}\s?(?:instruction|system|response)s?\b",
    r"^\s?assistant\s?:",
)


def _fold(text: str) -> tuple[str, Callable[[int], int]]:
    """The folded text, and a function from an index in it to the index of the original
    character it came from."""
    table = {ord(char): _fold_char(char) for char in set(text)}
    folded = text.translate(table)
    if len(folded) == len(text) and all(len(v) == 1 for v in table.values()):
        return folded, lambda index: index  # the usual case: one character for one
    # Some characters vanished (invisible ones, marks) or grew ("ß" → "ss"): the folded text
    # ends where the running total of folded lengths says.
    ends = list(itertools.accumulate(len(table[ord(char)]) for char in text))
    return folded, lambda index: bisect.bisect_right(ends, index)


def _shown(text: str) -> str:
    """A phrase as the analyst reads it: the report's own characters (composed), without the
    invisible ones, one space between words, at most MAX_PHRASE_CHARS characters."""
    visible = "".join(c for c in text if unicodedata.category(c) != "Cf")
    return " ".join(unicodedata.normalize("NFC", visible).split())[:MAX_PHRASE_CHARS]


def suspected_injection(text: str) -> list[str]:
    """Phrases of ``text`` that address the model with instructions, in text order, unique, at
    most :data:`MAX_PHRASES`; empty when there are none."""
    folded, origin = _fold(text)
    if not folded.strip():
        return []
    lookalikes = folded.translate(_LOOKALIKES)
    found: list[tuple[int, int]] = []
    for view, patterns in ((folded, _LATIN), (lookalikes, _LATIN), (folded, _OTHER)):
        for pattern in patterns:
            for match in pattern.finditer(view):
                start, end = match.start(), match.end()
                # Leading whitespace of a line-start match is not part of the phrase.
                while start < end and view[start].isspace():
                    start += 1
                if end > start:
                    found.append((origin(start), origin(end - 1) + 1))
    # Longest first at each start; a phrase inside one already kept is the same finding.
    found.sort(key=lambda span: (span[0], -span[1]))
    kept: list[tuple[int, int]] = []
    for start, end in found:
        if kept and start < kept[-1][1]:
            continue
        kept.append((start, end))
    phrases: list[str] = []
    for start, end in kept:
        phrase = _shown(text[start:end])
        if phrase and phrase not in phrases:
            phrases.append(phrase)
        if len(phrases) == MAX_PHRASES:
            break
    return phrases


def injection_flag(phrases: list[str]) -> Flag | None:
    """The report flag for :func:`suspected_injection`'s phrases; None when there are none."""
    if not phrases:
        return None
    return Flag(
        code="suspected_injection",
        detail=(
            "The report text addresses the model with instructions. It was treated as data: "
            "every output was produced with this text as report content, never as instructions."
        ),
        task=None,
        items=[phrase[:MAX_PHRASE_CHARS] for phrase in phrases[:MAX_PHRASES]],
    )
