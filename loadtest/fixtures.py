"""The project's own fixture reports: five languages, the formats analysts receive.

Used by the task benchmark (glossary adherence, grounded-entity rate) and by tests. Every
report is invented; units, equipment and grids are plausible, not real.
"""

from __future__ import annotations

from typing import NamedTuple


class Fixture(NamedTuple):
    language: str
    text: str


FIXTURES: tuple[Fixture, ...] = (
    Fixture("fr", "COMPTE RENDU — 3e RIMa, 2e compagnie. Le 251430ZNOV26, la patrouille observe "
        "trois BTR-82A en mouvement vers le nord, position 31U DQ 48251 11932. Aucun tir."),
    Fixture("fr", "Objet : activité ennemie. À 260615ZNOV26, un drone de reconnaissance survole "
        "le point de contrôle 31U DQ 50210 12040. Deux véhicules blindés repérés. 1er RCP alerté."),
    Fixture("fr", "SITREP 12. Le bataillon tient ses positions. Tir d'artillerie ennemi sur "
        "31U DQ 47000 11000 à 252200ZNOV26, aucun blessé. Munitions : 60 %."),
    Fixture("fr", "Demande d'évacuation sanitaire. Point de ramassage 31U DQ 48900 11500, "
        "2 blessés couchés, 1 blessé assis. Zone sécurisée. Indicatif VIPÈRE 21."),
    Fixture("en", "SPOTREP. SIZE: 2 trucks. ACTIVITY: loading crates. LOCATION: 48.8582N 2.2945E. "
        "UNIT: unknown. TIME: 251512ZNOV26. EQUIPMENT: 2x Ural-4320."),
    Fixture("en", "INTREP. At 260400ZNOV26 an enemy company with four T-72B3 tanks was observed "
        "at 37U DQ 12345 67890 moving west. Assessment: probable attack on the bridge."),
    Fixture("en", "SITREP. The 2nd Bn holds the checkpoint at 36U VA 55000 22000. Artillery fire "
        "at 251800ZNOV26, one casualty evacuated. Ammunition resupply requested."),
    Fixture("en", "Patrol report: three armoured personnel carriers and one self-propelled gun "
        "seen near the river crossing at 38S MB 11111 22222 at 252330ZNOV26."),
    Fixture("ru", "ИНТРЕП: колонна из 6 Т-72Б3 замечена в 37U DQ 12345 67890 в 260600ZNOV26, "
        "движется на запад. Сопровождение: два БТР-82А."),
    Fixture("ru", "Донесение: рота противника окопалась у 37U DQ 20000 70000. Артиллерийский "
        "огонь в 251900ZNOV26. Потерь нет."),
    Fixture("ru", "Разведка сообщает: беспилотник над позицией 37U DQ 15000 66000 в "
        "252100ZNOV26. Замечены три танка и грузовики с боеприпасами."),
    Fixture("ru", "Сводка: батальон удерживает контрольно-пропускной пункт. Эвакуация двух "
        "раненых с 37U DQ 14000 65000 в 260200ZNOV26."),
    Fixture("uk", "Спостерігач повідомляє: дві САУ біля 36U VA 55000 22000 о 251800ZNOV26."),
    Fixture("uk", "Донесення: колона з п'яти вантажівок і двох БМП рухається на схід через "
        "36U VA 56000 23000 о 260500ZNOV26."),
    Fixture("uk", "Розвідка: ворожий безпілотник над блокпостом 36U VA 54000 21000 о "
        "252000ZNOV26. Втрат немає."),
    Fixture("uk", "Зведення: батальйон утримує позиції. Артилерійський обстріл о 260300ZNOV26 "
        "біля 36U VA 55500 22500, один поранений."),
    Fixture("ar", "دورية تفيد برصد ثلاث مركبات مدرعة عند 38S MB 11111 22222 الساعة "
        "251900ZNOV26."),
    Fixture("ar", "تقرير: سرية معادية مع دبابتين عند 38S MB 12000 23000 الساعة 260100ZNOV26، "
        "تتحرك نحو الجسر."),
    Fixture("ar", "بلاغ: طائرة مسيرة فوق نقطة التفتيش 38S MB 13000 24000 الساعة 252200ZNOV26. "
        "لا إصابات."),
    Fixture("ar", "موقف: الكتيبة تحافظ على مواقعها. قصف مدفعي الساعة 260400ZNOV26 قرب "
        "38S MB 11500 22500، جريح واحد."),
)  # fmt: skip
