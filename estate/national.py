"""National estates: one population, several provinces, some people in two of them.

Each province gets a whole estate of its own (five legacy systems, its truth.csv, damage.csv and
jinbao.toml, its cities as pooling regions), built from the persons who live there. A mover (the
`movers` share) lives in a second province too: his or her files in the province left were
ended, except at the `left_active` rate (a transfer the old province never closed: 重复参保 across
provinces). The folder also holds

    truth.csv       every province's rows, as the national tier names them: source_system
                    'anhui/pension' (legacy-estate's ground-truth format)
    national.toml   the national tier's configuration: [warehouse], [staging], [provinces.*]
"""

from __future__ import annotations

import csv
import dataclasses
import random
from collections.abc import Callable
from pathlib import Path

from estate import build_estate
from estate.population import people

PROVINCE_CITIES = {
    "guangdong": ("440100", "440300", "440600"),
    "anhui": ("340100", "340200", "340300"),
    "sichuan": ("510100", "510300", "510400"),
    "hubei": ("420100", "420500", "420600"),
    "xinjiang": ("650100", "650200", "652300"),
    "zhejiang": ("330100", "330200", "330300"),
    "jiangsu": ("320100", "320200", "320500"),
    "henan": ("410100", "410200", "410300"),
    "shandong": ("370100", "370200", "370300"),
    "hunan": ("430100", "430200", "430300"),
}
NATIONAL_TEMPLATE = """# The national tier over {count} province estates ({persons} persons, seed {seed})
[warehouse]
url = "sqlite:///national.db"
[staging]
root = "national_staging"
buckets = 4
[spark]                   # a first load and every full match run on Spark
master = "local[*]"       # this machine's cores; a cluster: spark://host:7077, yarn, k8s://...
{provinces}"""


def build_national_estates(persons: int, seed: int, out: Path,
                           provinces: tuple[str, ...] = ("guangdong", "anhui", "sichuan"),
                           movers: float = 0.1, damage: str = "catalogue",
                           built: Callable[[str, Path], None] | None = None
                           ) -> dict[str, dict[str, int]]:
    """Write one estate per province under `out/<province>/`, the national truth.csv and
    national.toml; returns each province's row counts (with its persons). `damage`: as
    build_estate's. `built(province, folder)`: called as each province's estate is written
    (and its rows are in the national truth.csv), before the next is built: a benchmark runs
    and clears one province at a time, when the country does not fit on its disk."""
    unknown = [p for p in provinces if p not in PROVINCE_CITIES]
    if unknown or len(provinces) < 2:
        raise ValueError(f"provinces {', '.join(unknown) or provinces}: name two or more of "
                         f"{', '.join(PROVINCE_CITIES)}")
    rng = random.Random(seed)
    population = people(persons, rng)
    living: dict[str, list] = {p: [] for p in provinces}
    for person in population:
        home = rng.choice(provinces)
        living[home].append(person)
        if rng.random() < movers:  # lived in `left` before; every mover lives in `home` now
            left = rng.choice([p for p in provinces if p != home])
            living[left].append(dataclasses.replace(person, moved_out=True))
    del population
    counts = {}
    out.mkdir(parents=True, exist_ok=True)
    sections = "".join(f'\n[provinces.{p}]\nwarehouse = "sqlite:///{p}/warehouse.db"\n'
                       for p in provinces)
    (out / "national.toml").write_text(NATIONAL_TEMPLATE.format(
        count=len(provinces), persons=persons, seed=seed, provinces=sections), encoding="utf-8")
    with (out / "truth.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("source_system", "source_key", "person_key"))
        for i, province in enumerate(provinces):
            cities = PROVINCE_CITIES[province]
            placed = [dataclasses.replace(p, city=rng.choice(cities)) for p in living[province]]
            living[province] = []
            counts[province] = build_estate(len(placed), seed * 100 + i, out / province,
                                            population=placed, cities=cities, damage=damage)
            del placed
            with (out / province / "truth.csv").open(encoding="utf-8", newline="") as rows:
                next(rows)
                writer.writerows([f"{province}/{system}", key, person]
                                 for system, key, person in csv.reader(rows))
            handle.flush()
            if built is not None:
                built(province, out / province)
    return counts
