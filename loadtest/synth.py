"""Seeded synthetic feeds: field reports in five languages and sensor readings.

Every item is invented but shaped like what analysts receive (``docs``: domain reference):
SPOTREP (SALUTE), SITREP (free text or ADatP-3 slash-separated sets), INTREP (with its "so
what"), the French *compte rendu* (TTA 150) and the 9-line MEDEVAC request, in French, English,
Russian, Ukrainian and Arabic — each with a date-time group, an MGRS reference (a valid one,
derived from a latitude/longitude in its theatre), units and equipment — and JSON
``SensorReading`` s (radar, acoustic, EO/IR, SIGINT, seismic). The same seed gives the same
sequence; only the publisher ids carry the run's prefix.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping
from dataclasses import dataclass, field

import mgrs

from schemas import headers as H
from schemas.v1 import LatLonPosition, MgrsPosition, SensorReading, json_encoder

LANGUAGES = ("fr", "en", "ru", "uk", "ar")
FORMS = ("spotrep", "sitrep", "intrep", "compte_rendu", "medevac", "logistics")
#: Every kind an item can be: the report forms, and sensor readings.
KINDS = (*FORMS, "sensor")
PRECEDENCES = ("FLASH", "IMMEDIATE", "PRIORITY", "ROUTINE")
LABELS = ("np", "dr", "s", "ts")
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
#: Reports are dated from here (plus a seeded offset): fixed, so a seed gives the same texts.
EPOCH = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)
#: (lat, lon) centre of each theatre; grids fall within about 40 km of it.
THEATRES = ((48.85, 2.29), (50.45, 30.52), (48.0, 37.8), (33.3, 44.4), (55.75, 37.6))

EQUIPMENT = ("BTR-82A", "T-72B3", "BMP-2", "2S19 Msta-S", "Ural-4320", "Orlan-10", "TOS-1A",
             "CAESAR", "VBCI", "VAB", "Leclerc", "Tiger HAD")  # fmt: skip
UNITS = {
    "fr": ("3e RIMa", "1er RCP", "2e REP", "11e BP", "6e RPIMa", "92e RI", "1er RHP"),
    "en": ("2nd Bn", "10th Armored Division", "3rd Bde", "1st Recon Coy", "4th Rifles"),
    "ru": ("1-й мсб", "2-й танковый батальон", "разведрота 3-й бригады"),
    "uk": ("1-й батальйон", "93-я бригада", "розвідрота 2-го батальйону"),
    "ar": ("الكتيبة الثانية", "اللواء الثالث", "سرية الاستطلاع"),
}
CALLSIGNS = ("VIPÈRE 21", "FAUCON 3", "HAWK 6", "RAVEN 2", "ORLAN 7", "SOKIL 4", "NASR 1")

# One template per (language, form). Fields: {dtg} {grid} {grid2} {unit} {equip} {n} {m}
# {callsign} {freq} {fuel} {rounds} {pct}; a logistics status report in each language.
# compte_rendu is French doctrine: other languages fall back to a SITREP.
TEMPLATES: dict[tuple[str, str], str] = {
    ("fr", "spotrep"): "SPOTREP {callsign}. Effectif : {n} véhicules. Activité : progression "
    "vers le nord. Lieu : {grid}. Unité : inconnue. Heure : {dtg}. Matériel : {n}x {equip}.",
    ("fr", "sitrep"): "SITREP {unit}. Au {dtg}, le sous-groupement tient ses positions en {grid}."
    " Tir d'artillerie ennemi sur {grid2}, {m} blessé(s). Munitions : {pct} %.",
    ("fr", "intrep"): "INTREP. À {dtg}, une compagnie ennemie avec {n} {equip} est observée en "
    "{grid}, en mouvement vers l'ouest. Conséquence : attaque probable sur le pont sous 6 h.",
    ("fr", "compte_rendu"): "COMPTE RENDU — {unit}, {callsign}. Objet : activité ennemie. "
    "Références : ordre n° {m}. Le {dtg}, la patrouille observe {n} {equip} en {grid}. Aucun "
    "tir. Le chef de section, lieutenant MARTIN.",
    ("fr", "medevac"): "DEMANDE EVASAN 9 LIGNES {dtg}. L1 : {grid}. L2 : {freq} MHz {callsign}. "
    "L3 : {m}A {n}B. L4 : A. L5 : {m}L {n}A. L6 : N. L7 : C fumigène. L8 : A. L9 : RAS.",
    ("en", "spotrep"): "SPOTREP. SIZE: {n} vehicles. ACTIVITY: moving north. LOCATION: {grid}. "
    "UNIT: unknown. TIME: {dtg}. EQUIPMENT: {n}x {equip}. Reported by {callsign}.",
    ("en", "sitrep"): "MSGID/SITREP/{unit}//\nDTG/{dtg}//\nGENTEXT/SITUATION/{unit} holds the "
    "checkpoint at {grid}. Artillery fire near {grid2}, {m} casualties evacuated//",
    ("en", "intrep"): "INTREP. At {dtg} an enemy company with {n} {equip} was observed at "
    "{grid} moving west. So what: probable attack on the bridge within 6 hours.",
    ("en", "medevac"): "9-LINE MEDEVAC {dtg}. LINE 1: {grid}. LINE 2: {freq} MHZ {callsign}. "
    "LINE 3: {m}A {n}B. LINE 4: A. LINE 5: {m}L {n}A. LINE 6: N. LINE 7: C SMOKE. LINE 8: A. "
    "LINE 9: NONE.",
    ("ru", "spotrep"): "ДОНЕСЕНИЕ. Колонна из {n} {equip} замечена в {grid} в {dtg}, "
    "движется на запад. Наблюдатель {callsign}.",
    ("ru", "sitrep"): "Сводка {unit}. На {dtg} батальон удерживает позиции в {grid}. "
    "Артиллерийский огонь у {grid2}, раненых: {m}.",
    ("ru", "intrep"): "ИНТРЕП: в {dtg} рота противника с {n} {equip} окапывается у {grid}. "
    "Вывод: вероятно наступление на мост.",
    ("ru", "medevac"): "ЗАПРОС НА ЭВАКУАЦИЮ {dtg}. 1: {grid}. 2: {freq} МГц {callsign}. "
    "3: {m} срочных, {n} обычных. 5: {m} лежачих, {n} ходячих. 6: без противника.",
    ("uk", "spotrep"): "Спостерігач {callsign} повідомляє: {n} {equip} біля {grid} о {dtg}, "
    "рухаються на схід.",
    ("uk", "sitrep"): "Зведення {unit}. Станом на {dtg} батальйон утримує позиції в {grid}. "
    "Обстріл біля {grid2}, поранених: {m}.",
    ("uk", "intrep"): "ІНТРЕП: о {dtg} ворожа рота з {n} {equip} помічена в {grid}. "
    "Висновок: ймовірний наступ на міст.",
    ("uk", "medevac"): "ЗАПИТ НА ЕВАКУАЦІЮ {dtg}. 1: {grid}. 2: {freq} МГц {callsign}. "
    "3: {m} термінових, {n} звичайних. 5: {m} лежачих, {n} ходячих.",
    ("ar", "spotrep"): "بلاغ رصد: {n} مركبات {equip} عند {grid} الساعة {dtg}، تتحرك نحو الشمال. "
    "المبلغ {callsign}.",
    ("ar", "sitrep"): "تقرير موقف {unit}: الساعة {dtg} الكتيبة تحافظ على مواقعها عند {grid}. "
    "قصف مدفعي قرب {grid2}، {m} جرحى.",
    ("ar", "intrep"): "تقرير استخباري: الساعة {dtg} سرية معادية مع {n} {equip} عند {grid}. "
    "التقدير: هجوم محتمل على الجسر.",
    ("ar", "medevac"): "طلب إخلاء طبي {dtg}. 1: {grid}. 2: {freq} {callsign}. "
    "3: {m} عاجل، {n} عادي. 5: {m} على نقالة، {n} يمشون.",
    ("fr", "logistics"): "LOGSTAT {unit}, {grid}\n1. GDH : {dtg}\n2. GAZOLE : {fuel} L (VERT)\n"
    "3. MUNITIONS 5,56 mm : {rounds} cartouches, besoin {n}000\n4. VIVRES : {m} jours\n"
    "5. VÉHICULES INDISPONIBLES : {m}",
    (
        "en",
        "logistics",
    ): "LOGSTAT\nA. UNIT: {unit} AT {grid}\nB. DTG: {dtg}\nC. CL III DIESEL: {fuel} L ON "
    "HAND (AMBER)\nD. CL V 7.62MM: {rounds} RDS O/H, {n}00 RDS EXPENDED\nE. CL I: {m} DOS",
    (
        "ru",
        "logistics",
    ): "ЛОГСТАТ {unit} ({grid}) на {dtg}. Горючее: ДТ — {fuel} л. Боеприпасы: 5,45 мм "
    "— {rounds} шт. Продовольствие: {m} сут. Неисправно машин: {m}.",
    (
        "uk",
        "logistics",
    ): "ЛОГСТАТ {unit} ({grid}) станом на {dtg}. Пальне: ДП — {fuel} л. Боєприпаси: "
    "5,45 мм — {rounds} шт. Продовольство: {m} діб. Несправних машин: {m}.",
    (
        "ar",
        "logistics",
    ): "تقرير إمداد {unit} عند {grid} الساعة {dtg}: وقود ديزل {fuel} لتر، ذخيرة {rounds} "
    "طلقة، حصص غذائية لمدة {m} أيام، {m} مركبات معطلة.",
}
SENSOR_TYPES = ("radar", "acoustic", "eo_ir", "sigint", "seismic")
DETECTIONS = {
    "radar": ("wheeled vehicle", "tracked vehicle", "helicopter", "UAV"),
    "acoustic": ("artillery launch", "small arms", "rotary wing"),
    "eo_ir": ("tank", "truck convoy", "dismounted personnel"),
    "sigint": ("VHF emitter", "counter-battery radar", "drone datalink"),
    "seismic": ("tracked vehicle", "footsteps"),
}


@dataclass(frozen=True)
class Mix:
    """Weights of each precedence, label and language, and the share of sensor readings."""

    precedence: Mapping[str, float] = field(
        default_factory=lambda: {"FLASH": 0.05, "IMMEDIATE": 0.15, "PRIORITY": 0.3, "ROUTINE": 0.5}
    )
    label: Mapping[str, float] = field(
        default_factory=lambda: {"np": 0.4, "dr": 0.4, "s": 0.15, "ts": 0.05}
    )
    language: Mapping[str, float] = field(default_factory=lambda: dict.fromkeys(LANGUAGES, 0.2))
    sensor_share: float = 0.2


@dataclass(frozen=True)
class Synthetic:
    """One item to publish, and what it is (for per-precedence and per-kind accounting)."""

    ident: str
    subject: str
    payload: bytes
    headers: dict[str, str]
    label: str
    precedence: str
    kind: str
    language: str | None
    text: str


def parse_mix(spec: str | None, keys: tuple[str, ...]) -> dict[str, float] | None:
    """``"FLASH=1,ROUTINE=9"`` → weights (keys case-insensitive); None when ``spec`` is None."""
    if spec is None:
        return None
    out: dict[str, float] = {}
    for part in spec.split(","):
        name, _, weight = part.partition("=")
        match = [k for k in keys if k.lower() == name.strip().lower()]
        if not match or not weight:
            raise ValueError(f"bad mix entry {part!r}: expected NAME=WEIGHT, NAME in {keys}")
        out[match[0]] = float(weight)
    if sum(out.values()) <= 0:
        raise ValueError(f"mix {spec!r} has no positive weight")
    return out


def dtg(when: dt.datetime, rng: random.Random) -> str:
    """``DDHHMMZMONYY``, with the spacing publishers use (``25 1430Z NOV 26`` too)."""
    parts = (f"{when:%d}", f"{when:%H%M}Z", MONTHS[when.month - 1], f"{when:%y}")
    if rng.random() < 0.25:
        return " ".join((parts[0], parts[1], parts[2], parts[3]))
    return "".join(parts)


class Generator:
    """``Generator(seed).item(i)`` — deterministic in (seed, i), whatever order it is asked."""

    def __init__(self, seed: int = 1, mix: Mix | None = None, prefix: str = "lt") -> None:
        self.seed = seed
        self.mix = mix or Mix()
        self.prefix = prefix
        self._mgrs = mgrs.MGRS()

    def item(self, i: int) -> Synthetic:
        rng = random.Random(f"{self.seed}:{i}")
        m = self.mix
        precedence = _pick(rng, m.precedence)
        label = _pick(rng, m.label)
        ident = f"{self.prefix}-{i}"
        source = f"lt-{rng.choice(('alpha', 'bravo', 'charlie', 'delta'))}"
        when = EPOCH + dt.timedelta(minutes=rng.randrange(0, 14 * 24 * 60))
        theatre = rng.choice(THEATRES)
        if rng.random() < m.sensor_share:
            return self._sensor(rng, ident, label, precedence, source, when, theatre)
        language = _pick(rng, m.language)
        form = rng.choice(FORMS)
        if form == "compte_rendu" and language != "fr":
            form = "sitrep"
        text = TEMPLATES[(language, form)].format(
            dtg=dtg(when, rng),
            grid=self.grid(rng, theatre),
            grid2=self.grid(rng, theatre),
            unit=rng.choice(UNITS[language]),
            equip=rng.choice(EQUIPMENT),
            n=rng.randint(2, 9),
            m=rng.randint(1, 4),
            pct=rng.randrange(20, 100, 5),
            callsign=rng.choice(CALLSIGNS),
            freq=f"{rng.randint(30, 87)}.{rng.randint(0, 9)}{rng.choice('05')}",
            fuel=rng.randrange(500, 20_000, 100),
            rounds=rng.randrange(1_000, 90_000, 500),
        )
        headers = {H.MSG_ID: ident, H.PRECEDENCE: precedence, H.CONTENT_TYPE: "text/plain"}
        return Synthetic(
            ident=ident,
            subject=f"feeds.{label}.report.{source}",
            payload=text.encode(),
            headers=headers,
            label=label,
            precedence=precedence,
            kind=form,
            language=language,
            text=text,
        )

    def grid(self, rng: random.Random, theatre: tuple[float, float], *, spaced: bool = True) -> str:
        """A valid MGRS reference near ``theatre``, 8 or 10 digits, spaced like ``31U DQ …``."""
        lat = theatre[0] + rng.uniform(-0.35, 0.35)
        lon = theatre[1] + rng.uniform(-0.35, 0.35)
        precision = rng.choice((4, 5))
        raw: str = self._mgrs.toMGRS(lat, lon, MGRSPrecision=precision)
        zone_len = 3 if raw[:2].isdigit() else 2
        zone, square, digits = raw[:zone_len], raw[zone_len : zone_len + 2], raw[zone_len + 2 :]
        half = len(digits) // 2
        if not spaced or rng.random() < 0.3:
            return raw
        return f"{zone} {square} {digits[:half]} {digits[half:]}"

    def _sensor(
        self,
        rng: random.Random,
        ident: str,
        label: str,
        precedence: str,
        source: str,
        when: dt.datetime,
        theatre: tuple[float, float],
    ) -> Synthetic:
        sensor_type = rng.choice(SENSOR_TYPES)
        detection = rng.choice(DETECTIONS[sensor_type])
        position: MgrsPosition | LatLonPosition
        if rng.random() < 0.5:
            position = MgrsPosition(mgrs=self.grid(rng, theatre, spaced=False))
        else:
            position = LatLonPosition(
                lat=round(theatre[0] + rng.uniform(-0.3, 0.3), 5),
                lon=round(theatre[1] + rng.uniform(-0.3, 0.3), 5),
            )
        note = f"{detection} detected at {dtg(when, rng)}, bearing {rng.randrange(0, 360)} deg"
        reading = SensorReading(
            sensor_id=f"{sensor_type.upper()}-{rng.randint(1, 40):02d}",
            sensor_type=sensor_type,  # type: ignore[arg-type]
            position=position,
            time=when,
            detection_class=detection,
            confidence=round(rng.uniform(0.4, 0.99), 2),
            id=ident,
            note=note,
            precedence=precedence,  # type: ignore[arg-type]
        )
        return Synthetic(
            ident=ident,
            subject=f"feeds.{label}.sensor.{source}",
            payload=json_encoder.encode(reading),
            headers={H.MSG_ID: ident, H.CONTENT_TYPE: "application/json"},
            label=label,
            precedence=precedence,
            kind="sensor",
            language=None,
            text=note,
        )


def _pick(rng: random.Random, weights: Mapping[str, float]) -> str:
    names = [k for k, w in weights.items() if w > 0]
    return rng.choices(names, weights=[weights[k] for k in names])[0]
