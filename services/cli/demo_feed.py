"""A small mixed feed for `vigie up --demo`: languages, labels, precedences, kinds."""

from __future__ import annotations

import json

from schemas import headers as H

#: (subject, payload, headers)
DEMO_FEED: tuple[tuple[str, bytes, dict[str, str]], ...] = (
    (
        "feeds.dr.report.patrouille-3rima",
        (
            "COMPTE RENDU — 3e RIMa, 2e compagnie.\n"
            "Le 251430ZNOV26, la patrouille observe trois BTR-82A en mouvement vers le nord, "
            "position 31U DQ 48251 11932. Aucun tir. Demande de consignes."
        ).encode(),
        {H.PRECEDENCE: "IMMEDIATE", H.ORIGINATOR: "3e RIMa/2e Cie", H.MSG_ID: "demo-cr-1"},
    ),
    (
        "feeds.np.report.spotrep",
        (
            b"SPOTREP. SIZE: 2 trucks. ACTIVITY: loading crates. LOCATION: 48.8582N 2.2945E. "
            b"UNIT: unknown. TIME: 251512ZNOV26. EQUIPMENT: 2x Ural-4320."
        ),
        {H.MSG_ID: "demo-spot-1"},
    ),
    (
        "feeds.s.report.intrep",
        json.dumps(
            {
                "text": "INTREP: колонна из 6 Т-72Б3 замечена в 37U DQ 12345 67890 "
                "в 260600ZNOV26, движется на запад.",
                "precedence": "FLASH",
                "originator": "G2 cell",
            },
            ensure_ascii=False,
        ).encode(),
        {H.CONTENT_TYPE: "application/json", H.MSG_ID: "demo-intrep-1"},
    ),
    (
        "feeds.dr.report.ua-obs",
        "Спостерігач повідомляє: дві САУ біля 36U VA 55000 22000 о 251800ZNOV26.".encode(),
        {H.MSG_ID: "demo-ua-1", H.PRECEDENCE: "P"},
    ),
    (
        "feeds.np.report.ar-obs",
        "دورية تفيد برصد ثلاث مركبات مدرعة عند 38S MB 11111 22222 الساعة 251900ZNOV26.".encode(),
        {H.MSG_ID: "demo-ar-1"},
    ),
    (
        "feeds.dr.report.logstat-gtia",
        (
            "LOGSTAT GTIA 2 — 2e REP, 34U FA 71240 55310\n"
            "1. GDH : 261800ZNOV26\n"
            "2. GAZOLE : 14 500 L (ORANGE), besoin 6 000 L sous 24 h\n"
            "3. MUNITIONS 5,56 mm : 38 000 cartouches ; 120 mm : 42 obus (ROUGE)\n"
            "4. VIVRES : 3 jours de vivres\n"
            "5. VÉHICULES : 2 VBCI indisponibles"
        ).encode(),
        {H.PRECEDENCE: "PRIORITY", H.ORIGINATOR: "2e REP/BL", H.MSG_ID: "demo-logstat-1"},
    ),
    (
        "feeds.dr.sensor.radar-7",
        json.dumps(
            {
                "sensor_id": "GS-R7",
                "sensor_type": "radar",
                "position": {"type": "mgrs", "mgrs": "31UDQ4800011900"},
                "time": "2026-11-25T14:41:00Z",
                "detection_class": "tracked vehicle",
                "confidence": 0.82,
                "note": "Track heading 350, speed 25 km/h.",
            }
        ).encode(),
        {H.MSG_ID: "demo-radar-1"},
    ),
)
