"""What the DAG files build: one consolidation DAG (and its report DAG) per configuration file.

Read at every DAG parse, so it reads TOML and nothing else: no database, no pandas, no secrets
(a source's `conn` is resolved in the task, not here). Where the configurations are:

    $JINBAO_DAG_CONFIGS   files or folders of *.toml, separated by ':'; one DAG per file,
                          `jinbao_<file stem>` unless [airflow] dag_id says otherwise
    $JINBAO_CONFIG        else one file: the DAG `jinbao_consolidate`
    (neither)             the embedded estate under .jinbao/: the DAG `jinbao_consolidate`
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from extractors.systems import SYSTEMS
from jinbao.config_model import ConfigFile, NationalFile, read_file
from jinbao.errors import ConfigError

NAME = re.compile(r"^[A-Za-z0-9_.-]+$")  # what Airflow allows in task ids and pool names


class DagConfigError(ConfigError):
    """A configuration file cannot become a DAG; the message names the file and the key."""


@dataclass(frozen=True)
class SourceSpec:
    name: str
    system: str
    pool: str
    """The Airflow pool its stage task runs in: one per legacy database."""
    slots: int
    """Connections the legacy database may be given at once (the pool's size)."""


@dataclass(frozen=True)
class ScheduledSpec:
    """What every jinbao DAG takes from its file: id, time zone, retries, pools and queue."""

    dag_id: str
    config: str | None
    """The configuration file tasks load (None: the embedded default)."""
    timezone: str
    start_date: datetime
    retries: int
    """Retries of a read whose source was unreachable (attempts - 1)."""
    retry_delay: float
    max_retry_delay: float
    warehouse_pool: str
    warehouse_slots: int
    queue: str
    """The Celery queue every task of the DAG goes to: workers per province serve their queue."""

    @property
    def asset_name(self) -> str:
        return f"{self.dag_id}.warehouse"

    @property
    def asset_uri(self) -> str:
        """The warehouse as an Airflow asset: updated by every run of the DAG that loads."""
        return f"jinbao://{self.dag_id}/warehouse"


@dataclass(frozen=True)
class DagSpec(ScheduledSpec):
    sources: tuple[SourceSpec, ...] = ()
    buckets: int = 8
    schedule: str = "0 0 * * *"
    """Cron expression of a data-interval timetable: each run reads its own interval."""
    end_date: datetime | None = None
    catchup: bool = False

    @property
    def report_dag_id(self) -> str:
        return f"{self.dag_id}_report"


@dataclass(frozen=True)
class BrokenSpec:
    """A configuration file that cannot become DAGs: its DAGs are an import error, the others
    parse as usual."""

    dag_id: str
    config: str
    error: str


def _date(value: str | None, where: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise DagConfigError(f"{where} = {value!r} is not a date (YYYY-MM-DD)") from None


EMBEDDED = {"warehouse": {"url": "sqlite:///.jinbao/warehouse.db"},
            "sources": {s: {"system": s, "path": "injury"} if s == "injury"
                        else {"system": s, "url": f"sqlite:///{s}.db"} for s in SYSTEMS}}


def spec_from_file(path: Path | None, dag_id: str) -> DagSpec:
    """The DAG one configuration file asks for (None: the embedded default)."""
    model = read_file(path) if path is not None else ConfigFile.model_validate(EMBEDDED)
    where = str(path) if path else "the embedded default"
    air = model.airflow
    dag_id = air.dag_id or dag_id
    if not NAME.match(dag_id):
        raise DagConfigError(f"{where}: the DAG id {dag_id!r} may hold only letters, digits, "
                             "'_', '.' and '-'; set [airflow] dag_id")
    sources = tuple(SourceSpec(name, s.system, s.pool or f"{dag_id}.{name}", s.connections)
                    for name, s in model.sources.items())
    return DagSpec(
        **_scheduled(model, dag_id, where), config=str(path) if path else None,
        sources=sources, buckets=model.staging.buckets, schedule=air.schedule,
        end_date=_date(air.end_date, f"{where}: [airflow] end_date"), catchup=air.catchup)


def _scheduled(model, dag_id: str, where: str) -> dict:
    """The ScheduledSpec fields of a (province or national) file's model."""
    air, run, warehouse = model.airflow, model.run, model.warehouse
    return {
        "dag_id": dag_id, "timezone": air.timezone,
        "start_date": _date(air.start_date, f"{where}: [airflow] start_date"),
        "retries": run.retries - 1, "retry_delay": run.retry_delay,
        "max_retry_delay": run.max_retry_delay, "queue": air.queue,
        "warehouse_pool": warehouse.pool or f"{dag_id}.warehouse",
        # SQLite has one writer: more slots would only make loads wait on its lock
        "warehouse_slots": 1 if warehouse.url.startswith("sqlite") else warehouse.connections,
    }


def config_files(environ=os.environ) -> list[Path]:
    """The files named by $JINBAO_DAG_CONFIGS (folders give their *.toml), in name order; a
    name that does not exist is kept, so that it is reported as broken."""
    files: list[Path] = []
    for entry in filter(None, environ.get("JINBAO_DAG_CONFIGS", "").split(os.pathsep)):
        path = Path(entry)
        files.extend(sorted(path.glob("*.toml")) if path.is_dir() else [path])
    return files


def specs_and_broken(environ=os.environ) -> tuple[list[DagSpec], list[BrokenSpec]]:
    """Every DAG to build from the configurations in the environment (see the module doc), and
    the files that cannot become DAGs, each with its error. One broken file never hides the
    other provinces' DAGs."""
    files = config_files(environ)
    if files:
        wanted = [(f.resolve(), f"jinbao_{f.stem}") for f in files]
    elif environ.get("JINBAO_CONFIG"):
        wanted = [(Path(environ["JINBAO_CONFIG"]).resolve(), "jinbao_consolidate")]
    else:
        wanted = [(None, "jinbao_consolidate")]
    specs: list[DagSpec] = []
    broken: list[BrokenSpec] = []
    seen: dict[str, str | None] = {}
    for path, dag_id in wanted:
        try:
            spec = spec_from_file(path, dag_id)
        except ConfigError as error:
            broken.append(BrokenSpec(dag_id, str(path), str(error)))
            continue
        if spec.dag_id in seen:
            broken.append(BrokenSpec(spec.dag_id, str(path), (
                f"{spec.config} and {seen[spec.dag_id]} both make DAG {spec.dag_id!r}; set "
                "[airflow] dag_id in one of them")))
            continue
        seen[spec.dag_id] = spec.config
        specs.append(spec)
    return specs, broken


def dag_specs(environ=os.environ) -> list[DagSpec]:
    """Every DAG to build; DagConfigError naming each broken file when there is one (for the
    command line, which needs all of them: `jinbao pools`)."""
    specs, broken = specs_and_broken(environ)
    if broken:
        raise DagConfigError("\n".join(b.error for b in broken))
    return specs


def pools(specs: list[DagSpec], national: list[NationalSpec] = ()) -> dict[str, dict]:
    """The pools the DAGs run in, in `airflow pools import` form. A pool named by several
    configurations (one legacy database read by several provinces) gets the smallest size."""
    wanted: dict[str, tuple[int, str]] = {}
    for spec in [*specs, *national]:
        if isinstance(spec, NationalSpec):
            named = [(p.pool, p.slots, f"province warehouse {p.name} (national reads)")
                     for p in spec.provinces]
        else:
            named = [(s.pool, s.slots, f"legacy source {s.name} ({s.system})")
                     for s in spec.sources]
        named.append((spec.warehouse_pool, spec.warehouse_slots, "warehouse loads"))
        for pool, slots, what in named:
            if pool in wanted:
                slots = min(slots, wanted[pool][0])
            wanted[pool] = (slots, f"jinbao: {what}")
    return {name: {"slots": slots, "description": text, "include_deferred": False}
            for name, (slots, text) in sorted(wanted.items())}


@dataclass(frozen=True)
class ProvinceSpec:
    name: str
    pool: str
    """The Airflow pool its read runs in."""
    slots: int
    asset_uri: str | None
    """The province DAG's warehouse asset (None: the province is not a DAG of this
    deployment)."""
    asset_name: str | None


@dataclass(frozen=True)
class NationalSpec(ScheduledSpec):
    """The national DAG one national.toml asks for ($JINBAO_NATIONAL_CONFIGS)."""

    provinces: tuple[ProvinceSpec, ...] = ()
    schedule: str = "0 0 * * *"
    """Cron expression, used when no province names its DAG (else the provinces' assets)."""


def national_spec(path: Path, dag_id: str) -> NationalSpec:
    """The national DAG of one national.toml: one read task per province, in its pool."""
    model = read_file(path, NationalFile)
    air = model.airflow
    dag_id = air.dag_id or dag_id
    if not NAME.match(dag_id):
        raise DagConfigError(f"{path}: the DAG id {dag_id!r} may hold only letters, digits, "
                             "'_', '.' and '-'; set [airflow] dag_id")
    provinces = tuple(ProvinceSpec(
        name, p.pool or f"{dag_id}.{name}", p.connections,
        f"jinbao://{p.dag_id}/warehouse" if p.dag_id else None,
        f"{p.dag_id}.warehouse" if p.dag_id else None) for name, p in model.provinces.items())
    return NationalSpec(**_scheduled(model, dag_id, str(path)), config=str(path),
                        provinces=provinces, schedule=model.airflow.schedule)


def national_specs_and_broken(environ=os.environ) -> tuple[list[NationalSpec], list[BrokenSpec]]:
    """The national DAGs of the files $JINBAO_NATIONAL_CONFIGS names (files or folders of
    *.toml, separated by ':'): `jinbao_national` for one file, `jinbao_national_<stem>` for
    several, unless [airflow] dag_id says otherwise; and the files that cannot become one."""
    files: list[Path] = []
    for entry in filter(None, environ.get("JINBAO_NATIONAL_CONFIGS", "").split(os.pathsep)):
        path = Path(entry)
        files.extend(sorted(path.glob("*.toml")) if path.is_dir() else [path])
    specs, broken = [], []
    for path in files:
        dag_id = "jinbao_national" if len(files) == 1 else f"jinbao_national_{path.stem}"
        try:
            specs.append(national_spec(path.resolve(), dag_id))
        except ConfigError as error:
            broken.append(BrokenSpec(dag_id, str(path), str(error)))
    return specs, broken
