"""The estate simulator: five legacy systems as legacy-estate/README.md defines them, with ground
truth. Deterministic per seed.

    population   natural persons with valid ID numbers, names and home cities
    damage       the damage catalogue, injected at DAMAGE_RATES and logged in damage.csv
    systems      each legacy system's rows, in its vendor's columns
    write        databases on any engine, GB18030 CSV exports, jinbao.toml

`build_estate` writes an estate; `jinbao estate build` calls it.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Callable
from pathlib import Path

from estate.corruptor import Corruptor
from estate.damage import DAMAGE_RATES, Estate
from estate.population import CITIES, Person, people
from estate.systems import injury_files, maternity_rows, medical_rows, pension_rows, unemployment_rows
from estate.write import CONFIG_TEMPLATE, config_url, write_database, write_injury
from extractors.legacy_tables import METADATA, sy_cbry, unemployment_insured

__all__ = ["DAMAGE_RATES", "build_estate", "write_database"]


DAMAGE_MODELS = ("catalogue", "corruptor")


def build_estate(persons: int, seed: int, out: Path,
                 progress: Callable[[str], None] = lambda _: None,
                 engines: dict[str, str] | None = None,
                 damage: str = "catalogue", population: list[Person] | None = None,
                 cities: tuple[str, ...] = CITIES) -> dict[str, int]:
    """Write the five legacy systems, truth.csv, damage.csv and jinbao.toml under `out`.

    `population`: these persons instead of `persons` new ones (a national estate's province:
    estate.national), living in `cities`, the province's pooling regions.

    `engines` places database systems elsewhere than the default SQLite file in `out`
    ({"medical": "mysql+pymysql://root@127.0.0.1/medical?charset=utf8mb4", ...}).
    `damage`: "catalogue" (legacy-estate's damage catalogue) or "corruptor" (a field-level
    corruptor that shares nothing with it: estate.corruptor).
    """
    if damage not in DAMAGE_MODELS:
        raise ValueError(f"damage {damage!r}: choose {' or '.join(DAMAGE_MODELS)}")
    engines = engines or {}
    unknown = set(engines) - set(METADATA)
    if unknown:
        raise ValueError(f"--engine names {', '.join(sorted(unknown))}; database systems are "
                         f"{', '.join(METADATA)} (injury is always CSV files)")
    out.mkdir(parents=True, exist_ok=True)
    est = Estate(rng=random.Random(seed), cities=cities)
    if damage == "corruptor":
        est.model = Corruptor(random.Random(seed + 1))
    progress("people")
    population = people(persons, est.rng, cities) if population is None else population
    persons = len(population)
    for step in (pension_rows, medical_rows, unemployment_rows, maternity_rows):
        progress(step.__name__.removesuffix("_rows"))
        step(population, est)
    progress("injury")
    files = injury_files(population, est)
    tables_of = {"pension": ("ac01", "ac02"), "medical": ("mi_insured",),
                 "unemployment": (unemployment_insured.name,), "maternity": (sy_cbry.name,)}
    for system, tables in tables_of.items():
        progress(f"write {system}")
        write_database(system, engines.get(system, f"sqlite:///{out / system}.db"),
                       {name: est.rows[name] for name in tables})
    write_injury(files, out / "injury")
    with (out / "truth.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("source_system", "source_key", "person_key"))
        writer.writerows(est.truth)
    with (out / "damage.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("source_system", "source_key", "damage"))
        writer.writerows(est.damage)
    sources = "".join(
        f'\n[sources.{system}]\nsystem = "{system}"\n'
        + (f'path = "{system}"\n' if system == "injury"
           else f'url = "{config_url(system, engines.get(system))}"\n')
        for system in ("pension", "medical", "unemployment", "injury", "maternity"))
    (out / "jinbao.toml").write_text(
        CONFIG_TEMPLATE.format(persons=persons, seed=seed, sources=sources), encoding="utf-8")
    counts = {system: sum(1 for t in est.truth if t[0] == system)
              for system in ("pension", "medical", "unemployment", "injury", "maternity")}
    counts["persons"] = persons
    return counts

